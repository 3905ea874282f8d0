// Admins: listing users, reading the audit log, and acting on other users' tasks (audited).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { AuditEvent } from '../src/audit/repository.ts'
import { createApiToken, makeAdmin } from './auth-support.ts'
import {
  buildTestApp,
  createTask,
  errorOf,
  patchTask,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

for (const engine of testEngines()) {
  describe(`admin and audit (${engine})`, () => {
    let t: TestApp
    let admin: TestUser
    let alice: TestUser
    before(async () => {
      t = await buildTestApp({ CREDENTIAL_RECHECK_MS: 0 }, {}, engine)
      admin = await registerAndLogin(t.app)
      await makeAdmin(t.app, admin)
      alice = await registerAndLogin(t.app)
    })
    after(() => t.close())

    const audit = async (query: string, user = admin) => {
      const res = await t.app.inject({ url: `/v1/audit-events${query}`, headers: user.auth })
      assert.equal(res.statusCode, 200, res.body)
      return res.json() as { items: AuditEvent[]; page: { limit: number; offset: number; total: number } }
    }

    it('GET /v1/users is for admins only and paginates with a total', async () => {
      const denied = await t.app.inject({ url: '/v1/users', headers: alice.auth })
      assert.equal(denied.statusCode, 403)
      assert.equal(errorOf(denied).code, 'FORBIDDEN')
      const first = await t.app.inject({ url: '/v1/users?limit=1', headers: admin.auth })
      assert.equal(first.statusCode, 200)
      const page = first.json() as {
        items: { id: string; email: string }[]
        page: { limit: number; offset: number; total: number }
      }
      assert.equal(page.items.length, 1)
      assert.deepEqual(page.page, { limit: 1, offset: 0, total: 2 })
      assert.ok(!first.body.includes('password'))
      const second = (
        await t.app.inject({ url: '/v1/users?limit=1&offset=1', headers: admin.auth })
      ).json() as typeof page
      assert.notEqual(second.items[0]?.id, page.items[0]?.id)
      const capped = (
        await t.app.inject({ url: '/v1/users?limit=1000', headers: admin.auth })
      ).json() as typeof page
      assert.equal(capped.page.limit, 100)
      for (const q of ['limit=0', 'limit=-1', 'offset=-1', 'limit=abc', 'extra=1']) {
        const bad = await t.app.inject({ url: `/v1/users?${q}`, headers: admin.auth })
        assert.equal(bad.statusCode, 422, q)
      }
    })

    it('admins change, delete and restore anyone’s task and see deleted ones; each is audited in the log', async () => {
      const task = await createTask(t.app, alice)
      const patched = await patchTask(t.app, admin, task.id, { status: 'done' })
      assert.equal(patched.statusCode, 200)
      assert.equal(
        (await t.app.inject({ method: 'DELETE', url: `/v1/tasks/${task.id}`, headers: admin.auth }))
          .statusCode,
        204,
      )
      const deleted = await t.app.inject({ url: '/v1/tasks?deleted=only', headers: admin.auth })
      assert.ok((deleted.json() as { items: { id: string }[] }).items.some((i) => i.id === task.id))
      const restored = await t.app.inject({
        method: 'POST',
        url: `/v1/tasks/${task.id}/restore`,
        headers: admin.auth,
      })
      assert.equal(restored.statusCode, 200)
      // Others may not, and the owner's own changes are not audit material.
      const bob = await registerAndLogin(t.app)
      assert.equal(
        (
          await t.app.inject({
            method: 'PATCH',
            url: `/v1/tasks/${task.id}`,
            headers: bob.auth,
            payload: { status: 'todo' },
          })
        ).statusCode,
        403,
      )
      await t.app.inject({
        method: 'PATCH',
        url: `/v1/tasks/${task.id}`,
        headers: alice.auth,
        payload: { title: 'mine' },
      })

      const log = await audit(`?actor=${admin.id}`)
      const onTask = log.items.filter((e) => e.targetId === task.id)
      assert.deepEqual(onTask.map((e) => e.action).sort(), ['task.deleted', 'task.restored', 'task.updated'])
      for (const event of onTask) {
        assert.equal(event.actorId, admin.id)
        assert.equal(event.targetType, 'task')
        assert.equal(event.details.ownerId, alice.id)
        assert.ok(event.requestId)
        assert.equal(event.address, '127.0.0.1')
      }
      const all = await audit(`?action=task.updated`)
      assert.ok(all.items.every((e) => e.actorId === admin.id))
    })

    it('records registration, login, tokens; filters by actor, action and time; paginates', async () => {
      const carol = await registerAndLogin(t.app)
      const token = await createApiToken(t.app, carol, { name: 'x', scopes: ['tasks:read'] })
      await t.app.inject({ method: 'DELETE', url: `/v1/api-tokens/${token.id}`, headers: carol.auth })
      const mine = await audit(`?actor=${carol.id}&limit=100`)
      assert.deepEqual(mine.items.map((e) => e.action).reverse(), [
        'user.registered',
        'login.succeeded',
        'api_token.created',
        'api_token.revoked',
      ])
      assert.equal(mine.page.total, 4)
      const paged = await audit(`?actor=${carol.id}&limit=2&offset=2`)
      assert.deepEqual(
        paged.items.map((e) => e.action),
        ['login.succeeded', 'user.registered'],
      )
      const at = mine.items[0]?.at as string
      const from = await audit(`?actor=${carol.id}&from=${encodeURIComponent(at)}`)
      assert.ok(from.items.every((e) => e.at >= at))
      const none = await audit(`?actor=${carol.id}&to=2000-01-01T00:00:00Z`)
      assert.equal(none.page.total, 0)
      const offset = await audit(`?actor=${carol.id}&from=${encodeURIComponent('2000-01-01T01:00:00+01:00')}`)
      assert.equal(offset.page.total, 4)
    })

    it('the audit log is for admins with a session; bad filters are 422', async () => {
      const res = await t.app.inject({ url: '/v1/audit-events', headers: alice.auth })
      assert.equal(res.statusCode, 403)
      for (const q of ['actor=nope', 'action=bogus', 'from=yesterday', 'limit=0', 'offset=-3']) {
        const bad = await t.app.inject({ url: `/v1/audit-events?${q}`, headers: admin.auth })
        assert.equal(bad.statusCode, 422, q)
        assert.equal(errorOf(bad).code, 'VALIDATION_FAILED')
      }
    })

    it('a demoted admin loses admin rights on the next request', async () => {
      const temp = await registerAndLogin(t.app)
      await makeAdmin(t.app, temp)
      assert.equal((await t.app.inject({ url: '/v1/users', headers: temp.auth })).statusCode, 200)
      await t.app.database.db.updateTable('users').set({ role: 'user' }).where('id', '=', temp.id).execute()
      assert.equal((await t.app.inject({ url: '/v1/users', headers: temp.auth })).statusCode, 403)
    })
  })
}

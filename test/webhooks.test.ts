// The webhooks API (API.md §4): create with a secret shown once, list, get, update, delete,
// ownership, validation and the SSRF refusals at creation (private targets not allowed here).
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import {
  buildTestApp,
  errorOf,
  PASSWORD,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

const PUBLIC_URL = 'http://93.184.216.34/hooks' // a public address literal: no DNS needed

for (const engine of testEngines()) {
  describe(`webhooks API (${engine})`, () => {
    let t: TestApp
    let alice: TestUser
    let bob: TestUser
    before(async () => {
      t = await buildTestApp({}, {}, engine)
      alice = await registerAndLogin(t.app)
      bob = await registerAndLogin(t.app)
    })
    after(() => t.close())

    const create = (user: TestUser, payload: unknown) =>
      t.app.inject({ method: 'POST', url: '/v1/webhooks', headers: user.auth, payload: payload as object })

    it('creates a webhook, shows the secret once and never again', async () => {
      const res = await create(alice, {
        url: PUBLIC_URL,
        events: ['task.created', 'task.created', 'task.deleted'],
        description: 'ci',
      })
      assert.equal(res.statusCode, 201, res.body)
      assert.equal(res.headers['cache-control'], 'no-store')
      const body = res.json() as Record<string, unknown> & { id: string; secret: string }
      assert.equal(res.headers.location, `/v1/webhooks/${body.id}`)
      assert.match(body.secret, /^whsec_[A-Za-z0-9+/]{43}=$/)
      assert.deepEqual(body.events, ['task.created', 'task.deleted'])
      assert.equal(body.enabled, true)
      assert.equal(body.disabledReason, null)
      assert.equal(body.consecutiveFailures, 0)
      assert.equal(body.ownerId, alice.id)
      const got = await t.app.inject({ method: 'GET', url: `/v1/webhooks/${body.id}`, headers: alice.auth })
      assert.equal(got.statusCode, 200)
      assert.equal((got.json() as Record<string, unknown>).secret, undefined)
      const list = await t.app.inject({ method: 'GET', url: '/v1/webhooks', headers: alice.auth })
      assert.ok(!list.body.includes(body.secret))
      assert.ok(!list.body.includes('whsec_'))
    })

    it('refuses non-http schemes and private, loopback, link-local and metadata targets with 422', async () => {
      const refused = [
        'http://127.0.0.1/hook',
        'http://localhost:8080/hook',
        'http://10.1.2.3/hook',
        'http://172.16.0.1/hook',
        'http://192.168.1.1/hook',
        'http://169.254.169.254/latest/meta-data',
        'http://100.100.100.200/',
        'http://0.0.0.0/',
        'http://[::1]/hook',
        'http://[::ffff:127.0.0.1]/hook',
        'http://[::ffff:a9fe:a9fe]/hook',
        'http://[fd00:ec2::254]/hook',
        'http://[fe80::1]/hook',
        'http://2130706433/hook', // 127.0.0.1 as one decimal number
        'http://0x7f.1/hook',
        'ftp://93.184.216.34/hook',
        'file:///etc/passwd',
        'javascript:alert(1)',
        'gopher://93.184.216.34/',
        'not a url',
        'http://user:pass@93.184.216.34/',
      ]
      for (const url of refused) {
        const res = await create(alice, { url, events: ['task.created'] })
        assert.equal(res.statusCode, 422, `${url} → ${res.statusCode}`)
        const error = errorOf(res)
        assert.equal(error.code, 'VALIDATION_FAILED')
        assert.equal(error.details?.[0]?.field, 'url', url)
      }
    })

    it('validates the body and lists every problem', async () => {
      const res = await create(alice, { url: 42, events: ['task.exploded'], secret: 'mine' })
      assert.equal(res.statusCode, 422)
      const fields = (errorOf(res).details ?? []).map((d) => d.field).sort()
      assert.ok(fields.includes('url'), fields.join())
      assert.ok(
        fields.some((f) => f.startsWith('events')),
        fields.join(),
      )
      assert.ok(fields.includes('secret'), fields.join())
      const empty = await create(alice, { url: PUBLIC_URL, events: [] })
      assert.equal(empty.statusCode, 422)
      const missing = await create(alice, { url: PUBLIC_URL })
      assert.equal(missing.statusCode, 422)
      assert.equal(errorOf(missing).details?.[0]?.field, 'events')
    })

    it('needs authentication', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/v1/webhooks' })
      assert.equal(res.statusCode, 401)
    })

    it('owners see and change only their own webhooks; admins see all', async () => {
      const mine = (await create(alice, { url: PUBLIC_URL, events: ['task.updated'] })).json() as {
        id: string
      }
      for (const [method, url] of [
        ['GET', `/v1/webhooks/${mine.id}`],
        ['PATCH', `/v1/webhooks/${mine.id}`],
        ['DELETE', `/v1/webhooks/${mine.id}`],
        ['GET', `/v1/webhooks/${mine.id}/deliveries`],
      ] as const) {
        const res = await t.app.inject({
          method,
          url,
          headers: bob.auth,
          ...(method === 'PATCH' ? { payload: { description: 'x' } } : {}),
        })
        assert.equal(res.statusCode, 404, `${method} ${url}`)
      }
      const bobs = await t.app.inject({ method: 'GET', url: '/v1/webhooks', headers: bob.auth })
      assert.ok(!(bobs.json() as { items: { id: string }[] }).items.some((w) => w.id === mine.id))
      await sql`UPDATE users SET role = 'admin' WHERE id = ${bob.id}`.execute(t.app.database.db)
      const login = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email: bob.email, password: PASSWORD },
      })
      const adminAuth = { authorization: `Bearer ${(login.json() as { accessToken: string }).accessToken}` }
      const all = await t.app.inject({ method: 'GET', url: '/v1/webhooks', headers: adminAuth })
      assert.ok((all.json() as { items: { id: string }[] }).items.some((w) => w.id === mine.id))
      const got = await t.app.inject({ method: 'GET', url: `/v1/webhooks/${mine.id}`, headers: adminAuth })
      assert.equal(got.statusCode, 200)
    })

    it('queues a delivery for each change to every enabled webhook subscribed to its type, and to no other', async () => {
      const carol = await registerAndLogin(t.app)
      const hook = async (events: string[]) => {
        const res = await create(carol, { url: PUBLIC_URL, events })
        assert.equal(res.statusCode, 201, res.body)
        return (res.json() as { id: string }).id
      }
      const created = await hook(['task.created'])
      const changes = await hook(['task.updated', 'task.deleted'])
      const disabled = await hook(['task.created', 'task.updated', 'task.deleted'])
      const off = await t.app.inject({
        method: 'PATCH',
        url: `/v1/webhooks/${disabled}`,
        headers: carol.auth,
        payload: { enabled: false },
      })
      assert.equal(off.statusCode, 200, off.body)

      const task = (
        await t.app.inject({
          method: 'POST',
          url: '/v1/tasks',
          headers: carol.auth,
          payload: { title: 'fan out' },
        })
      ).json() as { id: string }
      await t.app.inject({
        method: 'PATCH',
        url: `/v1/tasks/${task.id}`,
        headers: carol.auth,
        payload: { status: 'done' },
      })
      await t.app.inject({ method: 'DELETE', url: `/v1/tasks/${task.id}`, headers: carol.auth })

      const queued = async (webhookId: string) =>
        (
          await t.app.database.db
            .selectFrom('webhook_deliveries')
            .innerJoin('events', 'events.id', 'webhook_deliveries.event_id')
            .select(['webhook_deliveries.event_type', 'events.task_id'])
            .where('webhook_deliveries.webhook_id', '=', webhookId)
            .orderBy('events.id')
            .execute()
        ).map((r) => `${r.event_type}:${r.task_id === task.id}`)
      assert.deepEqual(await queued(created), ['task.created:true'])
      assert.deepEqual(await queued(changes), ['task.updated:true', 'task.deleted:true'])
      assert.deepEqual(await queued(disabled), [])
    })

    it('updates, disables, re-enables and deletes', async () => {
      const hook = (await create(alice, { url: PUBLIC_URL, events: ['task.created'] })).json() as {
        id: string
      }
      const patch = (payload: unknown) =>
        t.app.inject({
          method: 'PATCH',
          url: `/v1/webhooks/${hook.id}`,
          headers: alice.auth,
          payload: payload as object,
        })
      const changed = await patch({ events: ['task.deleted'], description: 'changed', enabled: false })
      assert.equal(changed.statusCode, 200, changed.body)
      const body = changed.json() as {
        events: string[]
        description: string
        enabled: boolean
        disabledReason: string
      }
      assert.deepEqual(body.events, ['task.deleted'])
      assert.equal(body.enabled, false)
      assert.match(body.disabledReason, /owner/)
      const enabled = (await patch({ enabled: true })).json() as { enabled: boolean; disabledReason: null }
      assert.equal(enabled.enabled, true)
      assert.equal(enabled.disabledReason, null)
      assert.equal((await patch({ url: 'http://127.0.0.1/' })).statusCode, 422)
      assert.equal((await patch({ secret: 'x' })).statusCode, 422)
      // PostgreSQL text cannot hold NUL: refused on every engine, never a 500.
      const nul = await patch({ description: 'a\u0000b' })
      assert.equal(nul.statusCode, 422, nul.body)
      assert.equal(errorOf(nul).details?.[0]?.field, 'description')
      assert.equal((await patch({ id: 'x' })).statusCode, 422)
      // A webhook has no ETag: an If-Match naming one cannot hold (412, nothing changed); `*` can.
      // If-None-Match: `*` fails on a webhook that exists (412); a list of tags matches nothing.
      for (const [method, header, value, status] of [
        ['PATCH', 'if-match', '"bogus"', 412],
        ['DELETE', 'if-match', 'W/"x", "y"', 412],
        ['PATCH', 'if-none-match', '*', 412],
        ['DELETE', 'if-none-match', '*', 412],
        ['PATCH', 'if-none-match', '"x"', 200],
        ['PATCH', 'if-match', '*', 200],
      ] as const) {
        const res = await t.app.inject({
          method,
          url: `/v1/webhooks/${hook.id}`,
          headers: { ...alice.auth, [header]: value },
          ...(method === 'PATCH' ? { payload: { description: `${header} ${value}` } } : {}),
        })
        assert.equal(res.statusCode, status, `${method} ${header} ${value}: ${res.body}`)
      }
      const kept = await t.app.inject({ method: 'GET', url: `/v1/webhooks/${hook.id}`, headers: alice.auth })
      assert.equal((kept.json() as { description: string }).description, 'if-match *')
      // A webhook the caller cannot see is 404 first, If-Match or not.
      for (const url of [`/v1/webhooks/${randomUUID()}`, `/v1/webhooks/${hook.id}`]) {
        const other = url.endsWith(hook.id) ? bob : alice
        const res = await t.app.inject({
          method: 'DELETE',
          url,
          headers: { ...other.auth, 'if-match': '"x"' },
        })
        assert.equal(res.statusCode, 404, `${url}: ${res.body}`)
      }
      const del = await t.app.inject({
        method: 'DELETE',
        url: `/v1/webhooks/${hook.id}`,
        headers: alice.auth,
      })
      assert.equal(del.statusCode, 204)
      const again = await t.app.inject({
        method: 'DELETE',
        url: `/v1/webhooks/${hook.id}`,
        headers: alice.auth,
      })
      assert.equal(again.statusCode, 404)
      const malformed = await t.app.inject({
        method: 'GET',
        url: '/v1/webhooks/not-a-uuid',
        headers: alice.auth,
      })
      assert.equal(malformed.statusCode, 404)
    })

    it('lists deliveries with validated paging and 404s for unknown deliveries', async () => {
      const hook = (await create(alice, { url: PUBLIC_URL, events: ['task.created'] })).json() as {
        id: string
      }
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/webhooks/${hook.id}/deliveries`,
        headers: alice.auth,
      })
      assert.equal(res.statusCode, 200)
      assert.deepEqual(res.json(), { items: [], page: { limit: 20, nextCursor: null } })
      const bad = await t.app.inject({
        method: 'GET',
        url: `/v1/webhooks/${hook.id}/deliveries?limit=0`,
        headers: alice.auth,
      })
      assert.equal(bad.statusCode, 422)
      assert.equal(errorOf(bad).details?.[0]?.field, 'limit')
      // Plain decimal integers only, as on /v1/tasks.
      for (const limit of ['0x10', '1e2', '5.0', '+5', '%205']) {
        const odd = await t.app.inject({
          method: 'GET',
          url: `/v1/webhooks/${hook.id}/deliveries?limit=${limit}`,
          headers: alice.auth,
        })
        assert.equal(odd.statusCode, 422, `limit=${limit}: ${odd.body}`)
        assert.equal(errorOf(odd).details?.[0]?.field, 'limit')
      }
      // A malformed id of any length is no webhook or delivery: 404.
      const long = 'a'.repeat(101)
      for (const [method, url] of [
        ['GET', `/v1/webhooks/${long}`],
        ['DELETE', `/v1/webhooks/${long}`],
        ['GET', `/v1/webhooks/${long}/deliveries`],
        ['POST', `/v1/webhooks/${hook.id}/deliveries/${long}/redeliver`],
        ['GET', `/v1/api-tokens/${long}`],
      ] as const) {
        const res = await t.app.inject({ method, url, headers: alice.auth })
        assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`)
      }
      const badCursor = await t.app.inject({
        method: 'GET',
        url: `/v1/webhooks/${hook.id}/deliveries?cursor=zzz`,
        headers: alice.auth,
      })
      assert.equal(badCursor.statusCode, 422)
      const redeliver = await t.app.inject({
        method: 'POST',
        url: `/v1/webhooks/${hook.id}/deliveries/0193a000-0000-7000-8000-000000000000/redeliver`,
        headers: alice.auth,
      })
      assert.equal(redeliver.statusCode, 404)
    })

    it('documents the stream and webhooks in OpenAPI and reports the backlog in /metrics', async () => {
      const doc = (await t.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
        paths: Record<
          string,
          Record<string, { responses: Record<string, { content?: Record<string, unknown> }> }>
        >
      }
      assert.deepEqual(Object.keys(doc.paths['/v1/events']?.get?.responses['200']?.content ?? {}), [
        'text/event-stream',
      ])
      assert.ok(doc.paths['/v1/webhooks/{id}/deliveries/{deliveryId}/redeliver']?.post)
      const metrics = await t.app.inject({ method: 'GET', url: '/metrics' })
      assert.match(metrics.body, /^webhook_deliveries_pending \d+$/m)
      assert.match(metrics.body, /^event_streams_open 0$/m)
    })

    it('caps webhooks per account', async () => {
      const carol = await registerAndLogin(t.app)
      let created = 0
      for (;;) {
        const res = await create(carol, { url: PUBLIC_URL, events: ['task.created'] })
        if (res.statusCode !== 201) {
          assert.equal(res.statusCode, 409)
          assert.equal(errorOf(res).code, 'CONFLICT')
          break
        }
        created += 1
        assert.ok(created <= 25, 'the cap applies')
      }
      assert.equal(created, 25)
    })
  })
}

// Conditional requests (API.md §3): ETags on single tasks and lists, 304 on
// If-None-Match, 412 with nothing changed on a stale If-Match, 428 when required.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
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
  describe(`conditional requests (${engine})`, () => {
    let t: TestApp
    let strict: TestApp
    let user: TestUser
    before(async () => {
      ;[t, strict] = await Promise.all([
        buildTestApp({}, {}, engine),
        buildTestApp({ REQUIRE_IF_MATCH: true }, {}, engine),
      ])
      user = await registerAndLogin(t.app)
    })
    after(async () => {
      await Promise.all([t.close(), strict.close()])
    })

    it('answers If-None-Match on a task with 304 and no body, and 200 once it changed', async () => {
      const task = await createTask(t.app, user)
      const url = `/v1/tasks/${task.id}`
      const first = await t.app.inject({ method: 'GET', url, headers: user.auth })
      const etag = String(first.headers.etag)
      assert.equal(first.headers['cache-control'], 'private, no-cache')
      for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, '*']) {
        const res = await t.app.inject({
          method: 'GET',
          url,
          headers: { ...user.auth, 'if-none-match': inm },
        })
        assert.equal(res.statusCode, 304, inm)
        assert.equal(res.body, '')
        assert.equal(res.headers.etag, etag)
      }
      await t.app.inject({ method: 'PATCH', url, headers: user.auth, payload: { title: 'changed' } })
      const after = await t.app.inject({
        method: 'GET',
        url,
        headers: { ...user.auth, 'if-none-match': etag },
      })
      assert.equal(after.statusCode, 200)
      assert.notEqual(after.headers.etag, etag)
    })

    it('answers If-None-Match on a list with 304 until a listed task changes', async () => {
      const task = await createTask(t.app, user)
      const url = '/v1/tasks?ownerId=me'
      const first = await t.app.inject({ method: 'GET', url, headers: user.auth })
      const etag = String(first.headers.etag)
      assert.match(etag, /^(W\/)?"[^"]+"$/)
      const again = await t.app.inject({
        method: 'GET',
        url,
        headers: { ...user.auth, 'if-none-match': etag },
      })
      assert.equal(again.statusCode, 304)
      assert.equal(again.body, '')
      await t.app.inject({
        method: 'PATCH',
        url: `/v1/tasks/${task.id}`,
        headers: user.auth,
        payload: { status: 'done' },
      })
      const changed = await t.app.inject({
        method: 'GET',
        url,
        headers: { ...user.auth, 'if-none-match': etag },
      })
      assert.equal(changed.statusCode, 200)
      assert.notEqual(changed.headers.etag, etag)
    })

    it("gives a list a new ETag when its total, its tasks or a listed task's state change, and only then", async () => {
      const owner = await registerAndLogin(t.app)
      const first = await createTask(t.app, owner, { title: 'first' })
      await createTask(t.app, owner, { title: 'second' })
      const url = '/v1/tasks?ownerId=me&sort=createdAt&limit=1&deleted=include'
      const tagOf = async (inm?: string) => {
        const res = await t.app.inject({
          method: 'GET',
          url,
          headers: { ...owner.auth, ...(inm ? { 'if-none-match': inm } : {}) },
        })
        return { status: res.statusCode, etag: String(res.headers.etag), body: res.body }
      }
      const start = await tagOf()
      assert.equal(JSON.parse(start.body).items[0].id, first.id)
      assert.equal((await tagOf(start.etag)).status, 304)

      // A third task: the page still shows only the first, but page.total is 3.
      const third = await createTask(t.app, owner, { title: 'third' })
      const grown = await tagOf(start.etag)
      assert.equal(grown.status, 200)
      assert.equal(JSON.parse(grown.body).items[0].id, first.id)
      assert.equal(JSON.parse(grown.body).page.total, 3)
      assert.notEqual(grown.etag, start.etag)

      // A change to a task that is not on the page leaves this page's tag alone.
      const edit = await patchTask(t.app, owner, third.id, { status: 'done' })
      assert.equal(edit.statusCode, 200)
      assert.equal((await tagOf(grown.etag)).status, 304)

      // Deleting the listed task keeps it listed (deleted=include) with deletedAt set: a new body.
      const del = await t.app.inject({ method: 'DELETE', url: `/v1/tasks/${first.id}`, headers: owner.auth })
      assert.equal(del.statusCode, 204)
      const deleted = await tagOf(grown.etag)
      assert.equal(deleted.status, 200)
      assert.notEqual(JSON.parse(deleted.body).items[0].deletedAt, null)
      assert.notEqual(deleted.etag, grown.etag)
    })

    it('applies a PATCH with the current If-Match and refuses a stale one with 412, changing nothing', async () => {
      const task = await createTask(t.app, user)
      const url = `/v1/tasks/${task.id}`
      const ok = await t.app.inject({
        method: 'PATCH',
        url,
        headers: { ...user.auth, 'if-match': '"v1"' },
        payload: { title: 'v2 title' },
      })
      assert.equal(ok.statusCode, 200)
      assert.equal(ok.headers.etag, '"v2"')
      for (const stale of ['"v1"', 'W/"v2"', '"nonsense"']) {
        const res = await t.app.inject({
          method: 'PATCH',
          url,
          headers: { ...user.auth, 'if-match': stale },
          payload: { title: 'lost update' },
        })
        assert.equal(res.statusCode, 412, stale)
        assert.equal(errorOf(res).code, 'PRECONDITION_FAILED')
      }
      const del = await t.app.inject({ method: 'DELETE', url, headers: { ...user.auth, 'if-match': '"v1"' } })
      assert.equal(del.statusCode, 412)
      const current = (await t.app.inject({ method: 'GET', url, headers: user.auth })).json()
      assert.equal(current.title, 'v2 title')
      assert.equal(current.version, 2)
      assert.equal(current.deletedAt, null)
      const star = await t.app.inject({ method: 'DELETE', url, headers: { ...user.auth, 'if-match': '*' } })
      assert.equal(star.statusCode, 204)
    })

    it('refuses a change with If-None-Match naming the current version or *, and takes `*` in If-Match alone only', async () => {
      const task = await createTask(t.app, user)
      const url = `/v1/tasks/${task.id}`
      const change = (method: string, headers: Record<string, string>, path = url) =>
        t.app.inject({
          method: method as 'PATCH',
          url: path,
          headers: { ...user.auth, ...headers },
          ...(method === 'PATCH' ? { payload: { title: 'changed' } } : {}),
        })
      for (const [method, headers] of [
        ['PATCH', { 'if-none-match': '*' }],
        ['PATCH', { 'if-none-match': '"v1"' }],
        ['PATCH', { 'if-none-match': 'W/"v1", "v7"' }],
        ['PATCH', { 'if-match': '"v0", *' }],
        ['DELETE', { 'if-none-match': '*' }],
      ] as const) {
        const res = await change(method, headers)
        assert.equal(res.statusCode, 412, `${method} ${JSON.stringify(headers)}: ${res.body}`)
        assert.equal(errorOf(res).code, 'PRECONDITION_FAILED')
        // The message names the header whose condition failed.
        assert.match(errorOf(res).message, 'if-match' in headers ? /^If-Match / : /^If-None-Match /)
      }
      const unchanged = await t.app.inject({ method: 'GET', url, headers: user.auth })
      assert.equal(unchanged.json().version, 1)
      assert.equal(unchanged.json().deletedAt, null)
      // A tag that is not current lets the change through.
      const patched = await change('PATCH', { 'if-none-match': '"v9"' })
      assert.equal(patched.statusCode, 200, patched.body)
      assert.equal(patched.json().version, 2)
      const deleted = await change('DELETE', { 'if-none-match': '"v1"' })
      assert.equal(deleted.statusCode, 204)
      const restore = await change('POST', { 'if-none-match': '"v3"' }, `${url}/restore`)
      assert.equal(restore.statusCode, 412, restore.body)
      assert.equal((await change('POST', {}, `${url}/restore`)).statusCode, 200)
    })

    it('evaluates If-Match on a read: the current tag (or *) answers, another is 412', async () => {
      const task = await createTask(t.app, user)
      const url = `/v1/tasks/${task.id}`
      const read = (ifMatch: string) => t.app.inject({ url, headers: { ...user.auth, 'if-match': ifMatch } })
      assert.equal((await read('"v1"')).statusCode, 200)
      assert.equal((await read('*')).statusCode, 200)
      const stale = await read('"v0"')
      assert.equal(stale.statusCode, 412, stale.body)
      assert.equal(errorOf(stale).code, 'PRECONDITION_FAILED')
    })

    it('honours If-Match on restore: stale is 412 and the task stays deleted', async () => {
      const task = await createTask(t.app, user)
      const url = `/v1/tasks/${task.id}`
      assert.equal((await t.app.inject({ method: 'DELETE', url, headers: user.auth })).statusCode, 204)
      const stale = await t.app.inject({
        method: 'POST',
        url: `${url}/restore`,
        headers: { ...user.auth, 'if-match': '"v1"' },
      })
      assert.equal(stale.statusCode, 412)
      assert.equal((await t.app.inject({ method: 'GET', url, headers: user.auth })).statusCode, 404)
      const ok = await t.app.inject({
        method: 'POST',
        url: `${url}/restore`,
        headers: { ...user.auth, 'if-match': '"v2"' },
      })
      assert.equal(ok.statusCode, 200)
      assert.equal(ok.headers.etag, '"v3"')
    })

    it('lets only one of two PATCHes with the same If-Match win', async () => {
      const task = await createTask(t.app, user)
      const send = (title: string) =>
        t.app.inject({
          method: 'PATCH',
          url: `/v1/tasks/${task.id}`,
          headers: { ...user.auth, 'if-match': '"v1"' },
          payload: { title },
        })
      const results = await Promise.all([send('one'), send('two')])
      assert.deepEqual(results.map((r) => r.statusCode).sort(), [200, 412])
    })

    it('applies every one of many concurrent PATCHes without If-Match (last writer wins)', async () => {
      const task = await createTask(t.app, user)
      const results = await Promise.all(
        Array.from({ length: 10 }, (_, i) =>
          t.app.inject({
            method: 'PATCH',
            url: `/v1/tasks/${task.id}`,
            headers: user.auth,
            payload: { title: `writer ${i}` },
          }),
        ),
      )
      assert.deepEqual(
        results.map((r) => r.statusCode),
        Array(10).fill(200),
      )
      const final = await t.app.inject({ method: 'GET', url: `/v1/tasks/${task.id}`, headers: user.auth })
      assert.equal(final.json().version, 11)
    })

    it('requires If-Match on PATCH and DELETE when REQUIRE_IF_MATCH is on (428)', async () => {
      const owner = await registerAndLogin(strict.app)
      const task = await createTask(strict.app, owner)
      const url = `/v1/tasks/${task.id}`
      const patch = await strict.app.inject({
        method: 'PATCH',
        url,
        headers: owner.auth,
        payload: { title: 'x' },
      })
      assert.equal(patch.statusCode, 428)
      assert.equal(errorOf(patch).code, 'PRECONDITION_REQUIRED')
      const del = await strict.app.inject({ method: 'DELETE', url, headers: owner.auth })
      assert.equal(del.statusCode, 428)
      const ok = await strict.app.inject({
        method: 'PATCH',
        url,
        headers: { ...owner.auth, 'if-match': '"v1"' },
        payload: { title: 'x' },
      })
      assert.equal(ok.statusCode, 200)
      assert.equal((await strict.app.inject({ method: 'GET', url, headers: owner.auth })).json().version, 2)
    })
  })
}

// Acceptance: limit and offset are plain integers (API.md §3: negative or non-integer → 422 with
// `field` = the parameter name); text that merely converts to a number is not one.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  buildTestApp,
  createTask,
  errorOf,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

for (const engine of testEngines()) {
  describe(`list paging parameters (${engine})`, () => {
    let t: TestApp
    let alice: TestUser
    before(async () => {
      t = await buildTestApp({}, {}, engine)
      alice = await registerAndLogin(t.app)
      await createTask(t.app, alice)
    })
    after(() => t.close())

    const list = (query: string) =>
      t.app.inject({ method: 'GET', url: `/v1/tasks?${query}`, headers: alice.auth })

    for (const query of [
      'limit=0x10',
      'limit=1e1',
      'limit=%205',
      'limit=5.0',
      'offset=1e0',
      'offset=0x1',
      'limit=-1',
      'offset=-3',
      'limit=2.5',
    ]) {
      it(`refuses ${decodeURIComponent(query)} with 422 naming the parameter`, async () => {
        const res = await list(query)
        assert.equal(res.statusCode, 422, res.body)
        assert.deepEqual(
          errorOf(res).details?.map((d) => d.field),
          [query.split('=')[0]],
        )
      })
    }

    it('reads an unencoded + in a dueBefore/dueAfter offset as the + the client meant', async () => {
      const task = await createTask(t.app, alice, { title: 'due', dueAt: '2030-01-01T10:00:00Z' })
      const ids = async (query: string) => {
        const res = await list(`${query}&ownerId=me`)
        assert.equal(res.statusCode, 200, res.body)
        return (res.json() as { items: { id: string }[] }).items.map((i) => i.id)
      }
      // 11:00+01:00 is 10:00Z: not strictly after it; 10:30+01:00 is before it.
      assert.ok(!(await ids('dueAfter=2030-01-01T11:00:00+01:00')).includes(task.id))
      assert.ok((await ids('dueAfter=2030-01-01T10:30:00+01:00')).includes(task.id))
      assert.ok((await ids('dueBefore=2030-01-01T11:30:00+01:00')).includes(task.id))
    })

    it('compares dueBefore and dueAfter exactly when they are finer than a millisecond', async () => {
      const task = await createTask(t.app, alice, { title: 'due', dueAt: '2031-03-03T03:03:03.000Z' })
      const has = async (query: string) => {
        const res = await list(`${query}&ownerId=me`)
        assert.equal(res.statusCode, 200, res.body)
        return (res.json() as { items: { id: string }[] }).items.some((i) => i.id === task.id)
      }
      // 03.000 is before 03.0009 (it was read as 03.000, and so not before it).
      assert.equal(await has('dueBefore=2031-03-03T03:03:03.0009Z'), true)
      assert.equal(await has('dueBefore=2031-03-03T04:03:03.0001%2B01:00'), true)
      assert.equal(await has('dueBefore=2031-03-03T03:03:03.000Z'), false)
      assert.equal(await has('dueBefore=2031-03-03T03:03:03.0000Z'), false)
      assert.equal(await has('dueAfter=2031-03-03T03:03:02.9999Z'), true)
      assert.equal(await has('dueAfter=2031-03-03T03:03:03.0001Z'), false)
    })

    it('lists every problem at once and still caps big limits at 100', async () => {
      const both = await list('limit=1e1&offset=x&status=nope')
      assert.deepEqual(
        errorOf(both)
          .details?.map((d) => d.field)
          .sort(),
        ['limit', 'offset', 'status'],
      )
      // Problems only the schema once let through are listed beside the schema's own.
      const leap = await list('dueBefore=2026-12-31T23:59:60Z&limit=abc&sort=title,-title')
      assert.equal(leap.statusCode, 422)
      assert.deepEqual(
        errorOf(leap)
          .details?.map((d) => d.field)
          .sort(),
        ['dueBefore', 'limit', 'sort'],
      )
      assert.equal(errorOf(leap).message, 'Query parameters are invalid')
      const capped = await list('limit=100000000000000000000&offset=0')
      assert.equal(capped.statusCode, 200)
      assert.equal((capped.json() as { page: { limit: number } }).page.limit, 100)
    })
  })
}

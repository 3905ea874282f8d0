// Acceptance: validation `details` hold one entry per problem (API.md §1) — a value of the wrong
// type is one problem, not one entry per rule it also fails — and still list every problem.
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
  describe(`validation details (${engine})`, () => {
    let t: TestApp
    let alice: TestUser
    before(async () => {
      t = await buildTestApp({}, {}, engine)
      alice = await registerAndLogin(t.app)
    })
    after(() => t.close())

    it('reports null for a non-nullable enum once', async () => {
      const task = await createTask(t.app, alice)
      const res = await t.app.inject({
        method: 'PATCH',
        url: `/v1/tasks/${task.id}`,
        headers: alice.auth,
        payload: { status: null },
      })
      assert.equal(res.statusCode, 422)
      assert.deepEqual(errorOf(res).details, [{ field: 'status', message: 'must be a string' }])
    })

    it('still lists every field that is wrong, each once', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: alice.auth,
        payload: { title: 'x', status: null, priority: 7, tags: ['ok', 5], extra: true },
      })
      assert.equal(res.statusCode, 422)
      const fields = (errorOf(res).details ?? []).map((d) => d.field).sort()
      assert.deepEqual(fields, ['extra', 'priority', 'status', 'tags.1'])
    })
  })
}

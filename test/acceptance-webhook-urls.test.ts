// Acceptance: a webhook URL whose host name does not resolve (yet) is accepted at registration
// — it cannot be shown to be private, and every delivery re-checks the resolved addresses —
// while literal private addresses stay refused (API.md §4).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  buildTestApp,
  errorOf,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

// RFC 6761: names under .invalid never resolve, whatever the resolver.
const UNRESOLVABLE = 'https://hooks.example.invalid/receiver'

for (const engine of testEngines()) {
  describe(`webhook URLs that do not resolve (${engine})`, () => {
    let t: TestApp
    let alice: TestUser
    before(async () => {
      t = await buildTestApp({}, {}, engine)
      alice = await registerAndLogin(t.app)
    })
    after(() => t.close())

    it('accepts an unresolvable host on create and on update', async () => {
      const created = await t.app.inject({
        method: 'POST',
        url: '/v1/webhooks',
        headers: alice.auth,
        payload: { url: UNRESOLVABLE, events: ['task.created'] },
      })
      assert.equal(created.statusCode, 201, created.body)
      const { id } = created.json() as { id: string }
      const patched = await t.app.inject({
        method: 'PATCH',
        url: `/v1/webhooks/${id}`,
        headers: alice.auth,
        payload: { url: 'http://other.example.invalid/x' },
      })
      assert.equal(patched.statusCode, 200, patched.body)
      assert.equal((patched.json() as { url: string }).url, 'http://other.example.invalid/x')
    })

    it('still refuses private address literals', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/webhooks',
        headers: alice.auth,
        payload: { url: 'http://10.0.0.1/hook', events: ['task.created'] },
      })
      assert.equal(res.statusCode, 422)
      assert.equal(errorOf(res).details?.[0]?.field, 'url')
    })
  })
}

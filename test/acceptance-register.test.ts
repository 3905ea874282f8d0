// Acceptance: register counts characters as the contract and the schema do — code points, so
// a name of 100 emoji is 100 characters (API.md §2: name 1–100 characters).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { buildTestApp, errorOf, PASSWORD, type TestApp, testEngines, uniqueEmail } from './helpers.ts'

for (const engine of testEngines()) {
  describe(`register name length (${engine})`, () => {
    let t: TestApp
    before(async () => {
      t = await buildTestApp({}, {}, engine)
    })
    after(() => t.close())

    const register = (name: string) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/auth/register',
        payload: { email: uniqueEmail('len'), password: PASSWORD, name },
      })

    it('accepts 100 characters outside the BMP and refuses 101', async () => {
      const ok = await register('😀'.repeat(100))
      assert.equal(ok.statusCode, 201, ok.body)
      assert.equal((ok.json() as { name: string }).name, '😀'.repeat(100))
      const tooLong = await register('😀'.repeat(101))
      assert.equal(tooLong.statusCode, 422)
      assert.deepEqual(
        errorOf(tooLong).details?.map((d) => d.field),
        ['name'],
      )
    })

    it('lists an email too long with every other problem, and a name far too long once', async () => {
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/register',
        payload: { email: `${'a'.repeat(250)}@example.com`, password: 'short', name: 'x'.repeat(1001), z: 1 },
      })
      assert.equal(res.statusCode, 422, res.body)
      const byField = (a: { field: string }, b: { field: string }) => a.field.localeCompare(b.field)
      assert.deepEqual(errorOf(res).details?.sort(byField), [
        { field: 'email', message: 'must be at most 254 characters' },
        { field: 'name', message: 'must be at most 100 characters' },
        { field: 'password', message: 'must be at least 12 characters' },
        { field: 'z', message: 'is not a known field' },
      ])
    })

    it('refuses unpaired surrogates and C1 control characters in names and passwords: 422, nobody registered', async () => {
      const email = uniqueEmail('text')
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/register',
        payload: { email, password: 'correct horse \ud800', name: 'a\u0085b\udfff' },
      })
      assert.equal(res.statusCode, 422, res.body)
      assert.deepEqual(
        errorOf(res)
          .details?.map((d) => d.field)
          .sort(),
        ['name', 'name', 'password'],
      )
      assert.equal(errorOf(res).message, 'Request body is invalid')
      const login = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email, password: 'correct horse \ufffd' },
      })
      assert.equal(login.statusCode, 401, login.body)
    })
  })
}

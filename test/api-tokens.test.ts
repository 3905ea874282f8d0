// Personal API tokens (API.md §2): shown once, stored hashed, scoped, session-only management.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { hashOpaqueToken } from '../src/auth/tokens.ts'
import { auditActions, createApiToken } from './auth-support.ts'
import { buildTestApp, createTask, errorOf, registerAndLogin, type TestApp, testEngines } from './helpers.ts'

let nowMs = Date.now()
const clock = () => new Date(nowMs)

for (const engine of testEngines()) {
  describe(`API tokens (${engine})`, () => {
    let t: TestApp
    before(async () => {
      t = await buildTestApp({ CREDENTIAL_RECHECK_MS: 0 }, { clock }, engine)
    })
    after(() => t.close())

    it('creates a token shown once, stored only as a hash, and lists it without the secret', async () => {
      const user = await registerAndLogin(t.app)
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/api-tokens',
        headers: user.auth,
        payload: { name: ' ci ', scopes: ['tasks:read'] },
      })
      assert.equal(res.statusCode, 201)
      assert.equal(res.headers['cache-control'], 'no-store')
      const created = res.json() as {
        id: string
        token: string
        name: string
        scopes: string[]
        expiresAt: null
      }
      assert.match(created.token, /^tt_[A-Za-z0-9_-]{43}$/)
      assert.equal(created.name, 'ci')
      assert.deepEqual(created.scopes, ['tasks:read'])
      assert.equal(created.expiresAt, null)
      const row = await t.app.database.db
        .selectFrom('api_tokens')
        .selectAll()
        .where('id', '=', created.id)
        .executeTakeFirstOrThrow()
      assert.equal(row.token_hash, hashOpaqueToken(created.token))
      assert.ok(!JSON.stringify(row).includes(created.token))
      const list = await t.app.inject({ url: '/v1/api-tokens', headers: user.auth })
      assert.equal(list.statusCode, 200)
      assert.ok(!list.body.includes(created.token))
      assert.deepEqual(
        (list.json() as { items: { id: string }[] }).items.map((i) => i.id),
        [created.id],
      )
      assert.ok((await auditActions(t.app)).includes('api_token.created'))
      // What Location names can be fetched, without the secret, by its owner only, until revoked.
      const location = String(res.headers.location)
      assert.equal(location, `/v1/api-tokens/${created.id}`)
      const one = await t.app.inject({ url: location, headers: user.auth })
      assert.equal(one.statusCode, 200, one.body)
      assert.equal(one.headers['cache-control'], 'no-store')
      assert.deepEqual(one.json(), (list.json() as { items: unknown[] }).items[0])
      assert.ok(!one.body.includes(created.token))
      const stranger = await registerAndLogin(t.app)
      assert.equal((await t.app.inject({ url: location, headers: stranger.auth })).statusCode, 404)
      assert.equal((await t.app.inject({ url: '/v1/api-tokens/nope', headers: user.auth })).statusCode, 404)
      // No ETag: an If-Match naming a tag is 412 and the token stays; one not found is 404 first.
      const conditional = (headers: Record<string, string>, url = location) =>
        t.app.inject({ method: 'DELETE', url, headers: { ...headers, 'if-match': '"v1"' } })
      assert.equal((await conditional(user.auth)).statusCode, 412)
      assert.equal((await conditional(stranger.auth)).statusCode, 404)
      // If-None-Match: * fails on a token that exists.
      const noneMatch = await t.app.inject({
        method: 'DELETE',
        url: location,
        headers: { ...user.auth, 'if-none-match': '*' },
      })
      assert.equal(noneMatch.statusCode, 412, noneMatch.body)
      assert.equal((await t.app.inject({ url: location, headers: user.auth })).statusCode, 200)
      await t.app.inject({ method: 'DELETE', url: location, headers: user.auth })
      assert.equal((await t.app.inject({ url: location, headers: user.auth })).statusCode, 404)
    })

    it('a token works as a Bearer credential within its scopes only', async () => {
      const user = await registerAndLogin(t.app)
      const task = await createTask(t.app, user)
      const reader = await createApiToken(t.app, user, { name: 'reader', scopes: ['tasks:read'] })
      assert.equal(
        (await t.app.inject({ url: `/v1/tasks/${task.id}`, headers: reader.auth })).statusCode,
        200,
      )
      const write = await t.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: reader.auth,
        payload: { title: 'x' },
      })
      assert.equal(write.statusCode, 403)
      assert.equal(errorOf(write).code, 'INSUFFICIENT_SCOPE')
      const writer = await createApiToken(t.app, user, { name: 'writer', scopes: ['tasks:write'] })
      const created = await t.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: writer.auth,
        payload: { title: 'x' },
      })
      assert.equal(created.statusCode, 201)
      assert.equal((created.json() as { ownerId: string }).ownerId, user.id)
      assert.equal((await t.app.inject({ url: '/v1/tasks', headers: writer.auth })).statusCode, 403)
    })

    it('an API token cannot create, list or revoke tokens', async () => {
      const user = await registerAndLogin(t.app)
      const all = await createApiToken(t.app, user, {
        name: 'all',
        scopes: ['tasks:read', 'tasks:write', 'webhooks:manage'],
      })
      const mint = await t.app.inject({
        method: 'POST',
        url: '/v1/api-tokens',
        headers: all.auth,
        payload: { name: 'child', scopes: ['tasks:read'] },
      })
      assert.equal(mint.statusCode, 403)
      assert.equal((await t.app.inject({ url: '/v1/api-tokens', headers: all.auth })).statusCode, 403)
      const del = await t.app.inject({ method: 'DELETE', url: `/v1/api-tokens/${all.id}`, headers: all.auth })
      assert.equal(del.statusCode, 403)
    })

    it('revoking makes the token stop working; revoking twice or someone else’s is 404', async () => {
      const alice = await registerAndLogin(t.app)
      const bob = await registerAndLogin(t.app)
      const token = await createApiToken(t.app, alice, { name: 'x', scopes: ['tasks:read'] })
      assert.equal((await t.app.inject({ url: '/v1/tasks', headers: token.auth })).statusCode, 200)
      const foreign = await t.app.inject({
        method: 'DELETE',
        url: `/v1/api-tokens/${token.id}`,
        headers: bob.auth,
      })
      assert.equal(foreign.statusCode, 404)
      const del = await t.app.inject({
        method: 'DELETE',
        url: `/v1/api-tokens/${token.id}`,
        headers: alice.auth,
      })
      assert.equal(del.statusCode, 204)
      const after = await t.app.inject({ url: '/v1/tasks', headers: token.auth })
      assert.equal(after.statusCode, 401)
      assert.equal(errorOf(after).code, 'INVALID_TOKEN')
      assert.equal(after.headers['www-authenticate'], 'Bearer error="invalid_token"')
      const again = await t.app.inject({
        method: 'DELETE',
        url: `/v1/api-tokens/${token.id}`,
        headers: alice.auth,
      })
      assert.equal(again.statusCode, 404)
      const bad = await t.app.inject({
        method: 'DELETE',
        url: '/v1/api-tokens/not-an-id',
        headers: alice.auth,
      })
      assert.equal(bad.statusCode, 404)
      const list = (await t.app.inject({ url: '/v1/api-tokens', headers: alice.auth })).json() as {
        items: unknown[]
      }
      assert.equal(list.items.length, 0)
      assert.ok((await auditActions(t.app)).includes('api_token.revoked'))
    })

    it('expiresAt must be in the future, and an expired token is rejected', async () => {
      const user = await registerAndLogin(t.app)
      const past = await t.app.inject({
        method: 'POST',
        url: '/v1/api-tokens',
        headers: user.auth,
        payload: { name: 'x', scopes: ['tasks:read'], expiresAt: new Date(nowMs - 1000).toISOString() },
      })
      assert.equal(past.statusCode, 422)
      assert.equal(errorOf(past).details?.[0]?.field, 'expiresAt')
      const expiresAt = new Date(nowMs + 60_000).toISOString()
      const token = await createApiToken(t.app, user, { name: 'short', scopes: ['tasks:read'], expiresAt })
      assert.equal((await t.app.inject({ url: '/v1/tasks', headers: token.auth })).statusCode, 200)
      nowMs += 61_000
      try {
        assert.equal((await t.app.inject({ url: '/v1/tasks', headers: token.auth })).statusCode, 401)
      } finally {
        nowMs = Date.now()
      }
    })

    it('rejects bad bodies with every problem listed', async () => {
      const user = await registerAndLogin(t.app)
      const cases: unknown[] = [
        {},
        { name: '', scopes: [] },
        { name: 'x', scopes: ['admin'] },
        { name: 'x', scopes: ['tasks:read', 'tasks:read'] },
        { name: 'x', scopes: ['tasks:read'], expiresAt: 'tomorrow' },
        { name: 'x', scopes: ['tasks:read'], id: 'mine' },
        { name: '   ', scopes: ['tasks:read'] },
        // PostgreSQL text cannot hold NUL (this was a 500 there).
        { name: 'a\u0000b', scopes: ['tasks:read'] },
      ]
      for (const payload of cases) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/api-tokens',
          headers: user.auth,
          payload: payload as object,
        })
        assert.equal(res.statusCode, 422, JSON.stringify(payload))
        assert.equal(errorOf(res).code, 'VALIDATION_FAILED')
      }
      const both = await t.app.inject({
        method: 'POST',
        url: '/v1/api-tokens',
        headers: user.auth,
        payload: { scopes: 'x' },
      })
      assert.deepEqual(
        errorOf(both)
          .details?.map((d) => d.field)
          .sort(),
        ['name', 'scopes'],
      )
      // What the service would find (a name empty once trimmed, an expiry past) is listed beside
      // what the schema finds, not only once the schema passes.
      const mixed = await t.app.inject({
        method: 'POST',
        url: '/v1/api-tokens',
        headers: user.auth,
        payload: { name: '  ', scopes: ['tasks:read'], expiresAt: '2020-01-01T00:00:00Z', x: 1 },
      })
      const byField = (a: { field: string }, b: { field: string }) => a.field.localeCompare(b.field)
      assert.deepEqual(errorOf(mixed).details?.sort(byField), [
        { field: 'expiresAt', message: 'must be a time in the future' },
        { field: 'name', message: 'must not be empty' },
        { field: 'x', message: 'is not a known field' },
      ])
    })

    it('malformed or unknown tt_ tokens are 401 INVALID_TOKEN', async () => {
      for (const token of ['tt_', 'tt_short', `tt_${'A'.repeat(43)}`, `tt_${'A'.repeat(500)}`, 'tt_!!!!']) {
        const res = await t.app.inject({ url: '/v1/tasks', headers: { authorization: `Bearer ${token}` } })
        assert.equal(res.statusCode, 401, token)
        assert.equal(errorOf(res).code, 'INVALID_TOKEN')
      }
    })
  })
}

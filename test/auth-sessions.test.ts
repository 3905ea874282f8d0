// Refresh-token rotation, reuse detection, logout, expiry and deleted accounts (API.md §2).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { auditActions } from './auth-support.ts'
import { buildTestApp, errorOf, registerAndLogin, type TestApp, testEngines } from './helpers.ts'

let nowMs = Date.now()
const clock = () => new Date(nowMs)

for (const engine of testEngines()) {
  describe(`sessions (${engine})`, () => {
    let t: TestApp
    before(async () => {
      t = await buildTestApp({ REFRESH_TOKEN_TTL_SECONDS: 3600, CREDENTIAL_RECHECK_MS: 0 }, { clock }, engine)
    })
    after(() => t.close())

    const refresh = (refreshToken: unknown) =>
      t.app.inject({ method: 'POST', url: '/v1/auth/refresh', payload: { refreshToken } })

    it('rotates: a new pair, the old refresh token spent', async () => {
      const user = await registerAndLogin(t.app)
      const res = await refresh(user.refreshToken)
      assert.equal(res.statusCode, 200)
      assert.equal(res.headers['cache-control'], 'no-store')
      const pair = res.json() as {
        accessToken: string
        refreshToken: string
        tokenType: string
        expiresIn: number
      }
      assert.equal(pair.tokenType, 'Bearer')
      assert.notEqual(pair.refreshToken, user.refreshToken)
      assert.match(pair.refreshToken, /^rt_/)
      const me = await t.app.inject({
        url: '/v1/me',
        headers: { authorization: `Bearer ${pair.accessToken}` },
      })
      assert.equal(me.statusCode, 200)
      assert.equal((me.json() as { id: string }).id, user.id)
    })

    it('a spent refresh token revokes the whole family, its access tokens included, and is audited', async () => {
      const user = await registerAndLogin(t.app)
      const first = (await refresh(user.refreshToken)).json() as { accessToken: string; refreshToken: string }
      const replay = await refresh(user.refreshToken)
      assert.equal(replay.statusCode, 401)
      assert.equal(errorOf(replay).code, 'INVALID_TOKEN')
      // The thief's (or victim's) newer token dies with the family.
      const newer = await refresh(first.refreshToken)
      assert.equal(newer.statusCode, 401)
      const me = await t.app.inject({
        url: '/v1/me',
        headers: { authorization: `Bearer ${first.accessToken}` },
      })
      assert.equal(me.statusCode, 401)
      assert.equal(errorOf(me).code, 'INVALID_TOKEN')
      assert.equal(me.headers['www-authenticate'], 'Bearer error="invalid_token"')
      const original = await t.app.inject({ url: '/v1/me', headers: user.auth })
      assert.equal(original.statusCode, 401)
      assert.ok((await auditActions(t.app)).includes('refresh.reused'))
    })

    it('another session of the same user survives a family revocation', async () => {
      const user = await registerAndLogin(t.app)
      const login = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email: user.email, password: 'correct horse battery staple' },
      })
      const other = login.json() as { accessToken: string }
      await refresh(user.refreshToken)
      await refresh(user.refreshToken)
      const me = await t.app.inject({
        url: '/v1/me',
        headers: { authorization: `Bearer ${other.accessToken}` },
      })
      assert.equal(me.statusCode, 200)
    })

    it('logout answers 204 and ends the session', async () => {
      const user = await registerAndLogin(t.app)
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/logout',
        headers: user.auth,
        payload: { refreshToken: user.refreshToken },
      })
      assert.equal(res.statusCode, 204)
      assert.equal((await refresh(user.refreshToken)).statusCode, 401)
      assert.equal((await t.app.inject({ url: '/v1/me', headers: user.auth })).statusCode, 401)
    })

    it('logout needs credentials and ignores a refresh token of someone else', async () => {
      const alice = await registerAndLogin(t.app)
      const bob = await registerAndLogin(t.app)
      const anon = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/logout',
        payload: { refreshToken: alice.refreshToken },
      })
      assert.equal(anon.statusCode, 401)
      const foreign = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/logout',
        headers: bob.auth,
        payload: { refreshToken: alice.refreshToken },
      })
      assert.equal(foreign.statusCode, 204)
      assert.equal((await refresh(alice.refreshToken)).statusCode, 200)
    })

    it('refresh tokens expire after REFRESH_TOKEN_TTL_SECONDS', async () => {
      const user = await registerAndLogin(t.app)
      nowMs += 3601 * 1000
      try {
        const res = await refresh(user.refreshToken)
        assert.equal(res.statusCode, 401)
        assert.equal(errorOf(res).code, 'INVALID_TOKEN')
      } finally {
        nowMs = Date.now()
      }
    })

    it('bad refresh bodies are 401 or 422, never 500', async () => {
      for (const value of ['', 'rt_', 'nope', 'rt_'.padEnd(46, 'A'), 'x'.repeat(600), 42, null, ['rt_x']]) {
        const res = await refresh(value)
        assert.ok([401, 422].includes(res.statusCode), `${JSON.stringify(value)} → ${res.statusCode}`)
      }
      const extra = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/refresh',
        payload: { refreshToken: 'a', x: 1 },
      })
      assert.equal(extra.statusCode, 422)
    })

    it('the access token of a deleted account is rejected', async () => {
      const user = await registerAndLogin(t.app)
      await t.app.database.db.deleteFrom('users').where('id', '=', user.id).execute()
      const res = await t.app.inject({ url: '/v1/me', headers: user.auth })
      assert.equal(res.statusCode, 401)
      assert.equal(errorOf(res).code, 'INVALID_TOKEN')
      assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"')
    })
  })
}

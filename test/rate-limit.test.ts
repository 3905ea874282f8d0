// Rate limits (API.md §5) with low limits from configuration: per user, per
// address when anonymous, the stricter auth policy; 429 with IETF fields and
// Retry-After. Also /ready 503 while shutting down. Runs on every engine.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { assertErrorBody } from './assertions.ts'
import { buildTestApp, PASSWORD, type TestApp, testEngines, uniqueEmail } from './helpers.ts'

for (const engine of testEngines()) {
  describe(`rate limits and shutdown (${engine})`, () => {
    let t: TestApp
    before(async () => {
      t = await buildTestApp(
        { RATE_LIMIT_PER_MINUTE: 3, RATE_LIMIT_ANON_PER_MINUTE: 2, RATE_LIMIT_AUTH_PER_MINUTE: 2 },
        {},
        engine,
      )
    })
    after(() => t.close())

    /** Registers and logs in from an address of its own, so the auth policy of other tests is untouched. */
    async function userFrom(address: string): Promise<{ authorization: string }> {
      const email = uniqueEmail()
      await t.app.inject({
        method: 'POST',
        url: '/v1/auth/register',
        remoteAddress: address,
        payload: { email, password: PASSWORD, name: 'Limited' },
      })
      const login = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        remoteAddress: address,
        payload: { email, password: PASSWORD },
      })
      assert.equal(login.statusCode, 200, login.body)
      return { authorization: `Bearer ${login.json().accessToken}` }
    }

    it('limits each user separately, with RateLimit fields on every limited response', async () => {
      const a = await userFrom('10.0.1.1')
      const b = await userFrom('10.0.1.2')
      const statuses: number[] = []
      for (let i = 0; i < 4; i++) {
        const res = await t.app.inject({
          method: 'GET',
          url: '/v1/tasks',
          headers: a,
          remoteAddress: '10.0.1.3',
        })
        statuses.push(res.statusCode)
        assert.equal(res.headers['ratelimit-policy'], '"user";q=3;w=60')
        assert.match(String(res.headers.ratelimit), /^"user";r=\d+;t=\d+$/)
        if (res.statusCode === 429) {
          assertErrorBody(res, 'RATE_LIMITED')
          assert.match(String(res.headers['retry-after']), /^[1-9]\d*$/)
          assert.match(String(res.headers.ratelimit), /^"user";r=0;t=\d+$/)
        }
      }
      assert.deepEqual(statuses, [200, 200, 200, 429])
      const other = await t.app.inject({
        method: 'GET',
        url: '/v1/tasks',
        headers: b,
        remoteAddress: '10.0.1.3',
      })
      assert.equal(other.statusCode, 200, 'another user from the same address is not limited')
    })

    it('counts an authenticated request to an unknown route or method against its user, not its address', async () => {
      const a = await userFrom('10.0.5.1')
      for (const [method, url, status] of [
        ['GET', '/v1/nope', 404],
        ['PUT', '/v1/tasks', 405],
      ] as const) {
        const res = await t.app.inject({ method, url, headers: a, remoteAddress: '10.0.5.2' })
        assert.equal(res.statusCode, status)
        assert.equal(res.headers['ratelimit-policy'], '"user";q=3;w=60', `${method} ${url}`)
      }
    })

    it('limits anonymous callers per address, before authentication fails', async () => {
      const statuses: number[] = []
      for (let i = 0; i < 3; i++) {
        const res = await t.app.inject({ method: 'GET', url: '/v1/tasks', remoteAddress: '10.0.2.1' })
        statuses.push(res.statusCode)
      }
      assert.deepEqual(statuses, [401, 401, 429])
      const elsewhere = await t.app.inject({ method: 'GET', url: '/v1/tasks', remoteAddress: '10.0.2.2' })
      assert.equal(elsewhere.statusCode, 401)
      assert.equal(elsewhere.headers['ratelimit-policy'], '"anon";q=2;w=60')
    })

    it('applies the stricter auth policy per address to login and register', async () => {
      const statuses: number[] = []
      let last: Awaited<ReturnType<typeof t.app.inject>> | undefined
      for (let i = 0; i < 3; i++) {
        last = await t.app.inject({
          method: 'POST',
          url: '/v1/auth/login',
          remoteAddress: '10.0.3.1',
          payload: { email: uniqueEmail(), password: PASSWORD },
        })
        statuses.push(last.statusCode)
      }
      assert.deepEqual(statuses, [401, 401, 429])
      assert.ok(last)
      assertErrorBody(last, 'RATE_LIMITED')
      assert.equal(last.headers['ratelimit-policy'], '"auth";q=2;w=60')
      assert.ok(Number(last.headers['retry-after']) >= 1)
    })

    it('leaves operational endpoints unlimited', async () => {
      for (let i = 0; i < 5; i++) {
        const res = await t.app.inject({ method: 'GET', url: '/health', remoteAddress: '10.0.4.1' })
        assert.equal(res.statusCode, 200)
      }
    })
  })

  describe(`shutting down (${engine})`, () => {
    it('answers /ready with 503 and Retry-After once shutdown began, and drains other requests', async () => {
      const t = await buildTestApp({}, {}, engine)
      try {
        assert.equal((await t.app.inject({ method: 'GET', url: '/ready' })).statusCode, 200)
        t.app.beginShutdown()
        const ready = await t.app.inject({ method: 'GET', url: '/ready' })
        assert.equal(ready.statusCode, 503)
        assertErrorBody(ready, 'SERVICE_UNAVAILABLE')
        assert.match(String(ready.headers['retry-after']), /^\d+$/)
        // A request that still reaches the app (it may have been sent before SIGTERM) is served,
        // and the client is told to take its next request elsewhere.
        const health = await t.app.inject({ method: 'GET', url: '/health' })
        assert.equal(health.statusCode, 200)
        assert.equal(health.headers.connection, 'close')
      } finally {
        await t.close()
      }
    })
  })
}

// HTTP behaviour of API.md §0 and §5: request ids, security headers, CORS,
// compression and cache headers. Runs on every engine.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { brotliDecompressSync, gunzipSync } from 'node:zlib'
import { assertErrorBody } from './assertions.ts'
import {
  buildTestApp,
  createTask,
  errorOf,
  PASSWORD,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

const ORIGIN = 'https://app.example.com'

for (const engine of testEngines()) {
  describe(`HTTP behaviour (${engine})`, () => {
    let t: TestApp
    let user: TestUser
    before(async () => {
      t = await buildTestApp({ CORS_ORIGINS: `${ORIGIN}, https://other.example.com` }, {}, engine)
      user = await registerAndLogin(t.app)
    })
    after(() => t.close())

    it('reuses a well-formed X-Request-Id and replaces anything else', async () => {
      const good = 'abc.DEF_123:xyz-9'
      const res = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': good } })
      assert.equal(res.headers['x-request-id'], good)
      for (const bad of ['has space', 'x'.repeat(129), 'semi;colon', 'ünï']) {
        const r = await t.app.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': bad } })
        const id = String(r.headers['x-request-id'])
        assert.notEqual(id, bad)
        assert.match(id, /^[A-Za-z0-9._:-]{1,128}$/)
      }
      const generated = await t.app.inject({ method: 'GET', url: '/health' })
      assert.match(String(generated.headers['x-request-id']), /^[A-Za-z0-9._:-]{1,128}$/)
    })

    it('carries X-Request-Id on errors, equal to the body requestId', async () => {
      const res = await t.app.inject({
        method: 'GET',
        url: '/v1/tasks',
        headers: { 'x-request-id': 'req-42' },
      })
      assert.equal(res.statusCode, 401)
      assert.equal(res.headers['x-request-id'], 'req-42')
      assert.equal(res.json().error.requestId, 'req-42')
      const notFound = await t.app.inject({
        method: 'GET',
        url: '/nope',
        headers: { 'x-request-id': 'req-43' },
      })
      assert.equal(notFound.headers['x-request-id'], 'req-43')
    })

    it('sends security headers and a restrictive CSP on API responses', async () => {
      // Successes, a validation error, a missing route and an unauthenticated request alike.
      for (const [url, headers] of [
        ['/health', user.auth],
        ['/v1/tasks', user.auth],
        ['/v1/tasks?limit=lots', user.auth],
        ['/nope', user.auth],
        ['/v1/tasks', {}],
      ] as const) {
        const res = await t.app.inject({ method: 'GET', url, headers })
        assert.ok(res.statusCode === 200 || res.statusCode >= 400, url)
        assert.equal(res.headers['x-content-type-options'], 'nosniff', url)
        const csp = String(res.headers['content-security-policy'])
        assert.match(csp, /default-src 'none'/, url)
        assert.match(csp, /frame-ancestors 'none'/, url)
        assert.ok(res.headers['strict-transport-security'], url)
        assert.equal(res.headers['x-powered-by'], undefined)
      }
    })

    it('answers a CORS preflight from an allowed origin with Access-Control-Max-Age', async () => {
      const res = await t.app.inject({
        method: 'OPTIONS',
        url: '/v1/tasks',
        headers: {
          origin: ORIGIN,
          'access-control-request-method': 'PATCH',
          'access-control-request-headers': 'authorization, if-match, content-type',
        },
      })
      assert.ok(res.statusCode === 204 || res.statusCode === 200, String(res.statusCode))
      assert.equal(res.headers['access-control-allow-origin'], ORIGIN)
      assert.match(String(res.headers['access-control-allow-methods']), /PATCH/)
      assert.match(String(res.headers['access-control-allow-headers']), /If-Match/i)
      assert.ok(Number(res.headers['access-control-max-age']) > 0)
      const actual = await t.app.inject({
        method: 'GET',
        url: '/v1/tasks',
        headers: { ...user.auth, origin: ORIGIN },
      })
      assert.equal(actual.headers['access-control-allow-origin'], ORIGIN)
      assert.match(String(actual.headers['access-control-expose-headers']), /ETag/i)
      assert.match(String(actual.headers['access-control-expose-headers']), /WWW-Authenticate/i)
    })

    it('grants nothing to an origin that is not allowed', async () => {
      const res = await t.app.inject({
        method: 'OPTIONS',
        url: '/v1/tasks',
        headers: { origin: 'https://evil.example.net', 'access-control-request-method': 'DELETE' },
      })
      assert.equal(res.headers['access-control-allow-origin'], undefined)
      assert.equal(res.headers['access-control-allow-methods'], undefined)
      const get = await t.app.inject({
        method: 'GET',
        url: '/v1/tasks',
        headers: { ...user.auth, origin: 'https://evil.example.net' },
      })
      assert.equal(get.headers['access-control-allow-origin'], undefined)
      assert.equal(res.headers['access-control-max-age'], undefined)
      // OPTIONS without Origin is not a preflight: an API answer, not the plugin's text/plain 400.
      const bare = await t.app.inject({ method: 'OPTIONS', url: '/v1/tasks' })
      assert.equal(bare.statusCode, 405, bare.body)
      assertErrorBody(bare, 'METHOD_NOT_ALLOWED')
      assert.match(String(bare.headers.allow), /GET/)
    })

    it('compresses responses over 1 KiB with br or gzip, and leaves small ones alone', async () => {
      for (let i = 0; i < 8; i++)
        await createTask(t.app, user, { title: `Compressible ${i}`, description: 'x'.repeat(200) })
      const url = '/v1/tasks?ownerId=me&limit=100'
      const plain = await t.app.inject({ method: 'GET', url, headers: user.auth })
      assert.ok(plain.rawPayload.length > 1024)
      const br = await t.app.inject({
        method: 'GET',
        url,
        headers: { ...user.auth, 'accept-encoding': 'br' },
      })
      assert.equal(br.headers['content-encoding'], 'br')
      assert.deepEqual(JSON.parse(brotliDecompressSync(br.rawPayload).toString()), plain.json())
      const gz = await t.app.inject({
        method: 'GET',
        url,
        headers: { ...user.auth, 'accept-encoding': 'gzip' },
      })
      assert.equal(gz.headers['content-encoding'], 'gzip')
      assert.deepEqual(JSON.parse(gunzipSync(gz.rawPayload).toString()), plain.json())
      assert.match(String(gz.headers.vary), /accept-encoding/i)
      const small = await t.app.inject({
        method: 'GET',
        url: '/health',
        headers: { 'accept-encoding': 'br, gzip' },
      })
      assert.equal(small.headers['content-encoding'], undefined)
    })

    it('marks login and health no-store, and task reads private, no-cache', async () => {
      const login = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email: user.email, password: PASSWORD },
      })
      assert.equal(login.headers['cache-control'], 'no-store')
      assert.equal(
        (await t.app.inject({ method: 'GET', url: '/health' })).headers['cache-control'],
        'no-store',
      )
      const task = await createTask(t.app, user)
      for (const url of [`/v1/tasks/${task.id}`, '/v1/tasks']) {
        const res = await t.app.inject({ method: 'GET', url, headers: user.auth })
        assert.equal(res.headers['cache-control'], 'private, no-cache', url)
      }
    })

    it('takes an Accept that names what a route sends with its parameters, and refuses one that excludes it', async () => {
      const user = await registerAndLogin(t.app)
      const accepted: [string, string][] = [
        ['/v1/me', 'application/json;charset=UTF-8'],
        ['/v1/me', 'application/json; charset=utf-8, text/html;q=0.5'],
        ['/v1/me', 'application/*'],
        ['/metrics', 'text/plain;version=0.0.4'],
        ['/metrics', 'text/plain'],
        ['/docs', 'text/html'],
      ]
      for (const [url, accept] of accepted) {
        const res = await t.app.inject({ url, headers: { ...user.auth, accept } })
        assert.equal(res.statusCode, 200, `${url} Accept: ${accept}: ${res.body.slice(0, 200)}`)
      }
      for (const [url, accept] of [
        ['/v1/me', 'text/html'],
        ['/v1/me', 'application/json;q=0, */*'],
        ['/v1/me', 'application/json;charset=latin1'],
      ] as const) {
        const res = await t.app.inject({ url, headers: { ...user.auth, accept } })
        assert.equal(res.statusCode, 406, `${url} Accept: ${accept}`)
        assert.equal(
          errorOf(res).message,
          'This endpoint produces application/json; the Accept header excludes it',
        )
      }
    })

    it('answers HEAD like GET without a body', async () => {
      const task = await createTask(t.app, user)
      const res = await t.app.inject({ method: 'HEAD', url: `/v1/tasks/${task.id}`, headers: user.auth })
      assert.equal(res.statusCode, 200)
      assert.equal(res.body, '')
      assert.equal(res.headers.etag, '"v1"')
    })
  })
}

// Operational endpoints (API.md §6): health, readiness, metrics (and its token),
// the OpenAPI 3.1 document and the self-hosted docs. Runs on every engine.
import assert from 'node:assert/strict'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { assertErrorBody } from './assertions.ts'
import { buildTestApp, createTask, registerAndLogin, type TestApp, testEngines } from './helpers.ts'

interface OpenApiDoc {
  openapi: string
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>
}

for (const engine of testEngines()) {
  describe(`operations (${engine})`, () => {
    let t: TestApp
    let guarded: TestApp
    before(async () => {
      ;[t, guarded] = await Promise.all([
        buildTestApp({}, {}, engine),
        buildTestApp({ METRICS_TOKEN: 'metrics-secret-token' }, {}, engine),
      ])
    })
    after(async () => {
      await Promise.all([t.close(), guarded.close()])
    })

    it('GET /health answers ok with the time, no-store', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/health' })
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().status, 'ok')
      assert.ok(!Number.isNaN(Date.parse(res.json().time)))
      assert.equal(res.headers['cache-control'], 'no-store')
    })

    it('GET /ready is 200 while the database answers', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/ready' })
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().status, 'ready')
    })

    it('GET /metrics is Prometheus text with request counters by route and status', async () => {
      const user = await registerAndLogin(t.app)
      await createTask(t.app, user)
      await t.app.inject({ method: 'GET', url: '/v1/tasks', headers: user.auth })
      await t.app.inject({ method: 'GET', url: '/no/such/route' })
      const res = await t.app.inject({ method: 'GET', url: '/metrics' })
      assert.equal(res.statusCode, 200)
      assert.match(String(res.headers['content-type']), /^text\/plain/)
      assert.match(res.body, /# TYPE http_requests_total counter/)
      assert.match(res.body, /http_requests_total\{[^}]*route="\/v1\/tasks"[^}]*status="201"[^}]*\} 1/)
      assert.match(res.body, /http_requests_total\{[^}]*route="\/v1\/tasks"[^}]*status="200"/)
      assert.match(res.body, /http_requests_total\{[^}]*route="unmatched"[^}]*status="404"/)
      assert.match(res.body, /http_request_duration_seconds_bucket\{/)
      assert.match(res.body, /process_cpu_user_seconds_total/)
      // The pool exists on PostgreSQL only; SQLite has one connection and reports no pool.
      const pool = /db_pool_connections\{state="total"\} (\d+)/.exec(res.body)
      if (t.engine === 'postgres') assert.ok(Number(pool?.[1]) >= 1, 'pool size reported')
      else assert.equal(pool, null)
      // SQLite's searches run on threads of their own; their queue is a gauge (none in flight here).
      const searches = /^db_search_reads_pending (\d+)$/m.exec(res.body)
      if (t.engine === 'sqlite') assert.equal(searches?.[1], '0')
      else assert.equal(searches, null)
      assert.doesNotMatch(res.body, /no\/such\/route/)
      const plain = await t.app.inject({ method: 'GET', url: '/metrics', headers: { accept: 'text/plain' } })
      assert.equal(plain.statusCode, 200, 'a scraper asking for text/plain gets it')
    })

    it('GET /metrics needs the Bearer METRICS_TOKEN when one is set', async () => {
      const none = await guarded.app.inject({ method: 'GET', url: '/metrics' })
      assert.equal(none.statusCode, 401)
      assertErrorBody(none, 'UNAUTHENTICATED')
      const wrong = await guarded.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: 'Bearer not-the-token' },
      })
      assert.equal(wrong.statusCode, 401)
      assertErrorBody(wrong, 'INVALID_TOKEN')
      assert.doesNotMatch(wrong.body, /metrics-secret-token/)
      const ok = await guarded.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: 'Bearer metrics-secret-token' },
      })
      assert.equal(ok.statusCode, 200)
      assert.match(ok.body, /http_requests_total/)
      // The scheme is case-insensitive (RFC 9110 §11.1), as on every other route.
      const lower = await guarded.app.inject({
        method: 'GET',
        url: '/metrics',
        headers: { authorization: 'bearer metrics-secret-token' },
      })
      assert.equal(lower.statusCode, 200)
      // Two Authorization headers, the right token first: ambiguous, refused as on every route
      // (over a socket: only a raw header list carries a field twice).
      const address = new URL(await guarded.app.listen({ port: 0, host: '127.0.0.1' }))
      const twice = await new Promise<{ status: number; challenge: unknown; body: string }>(
        (resolve, reject) => {
          const headers = ['Host', address.host, 'Authorization', 'Bearer metrics-secret-token']
          headers.push('Authorization', 'Bearer not-the-token')
          const req = http.request(new URL('/metrics', address), { headers }, (res) => {
            let body = ''
            res.setEncoding('utf8')
            res.on('data', (chunk: string) => {
              body += chunk
            })
            res.on('end', () =>
              resolve({ status: res.statusCode ?? 0, challenge: res.headers['www-authenticate'], body }),
            )
          })
          req.on('error', reject)
          req.end()
        },
      )
      assert.equal(twice.status, 400, twice.body)
      assert.equal(JSON.parse(twice.body).error.code, 'MALFORMED_REQUEST')
      assert.equal(twice.challenge, 'Bearer error="invalid_request"')
    })

    it('GET /openapi.json is OpenAPI 3.1 with every route and its error responses', async () => {
      const res = await t.app.inject({ method: 'GET', url: '/openapi.json' })
      assert.equal(res.statusCode, 200)
      const doc = res.json() as OpenApiDoc
      assert.match(doc.openapi, /^3\.1\./)
      const expected: [string, string, string[]][] = [
        ['/v1/tasks', 'post', ['201', '400', '401', '403', '409', '413', '415', '422', '429']],
        ['/v1/tasks', 'get', ['200', '304', '401', '403', '422', '429']],
        ['/v1/tasks/{id}', 'get', ['200', '304', '401', '404']],
        ['/v1/tasks/{id}', 'patch', ['200', '400', '403', '404', '412', '415', '422', '428']],
        ['/v1/tasks/{id}', 'delete', ['204', '404', '412', '428']],
        ['/v1/tasks/{id}/restore', 'post', ['200', '403', '404']],
        ['/v1/auth/register', 'post', ['201', '409', '422']],
        ['/v1/auth/login', 'post', ['200', '401', '422']],
        ['/v1/me', 'get', ['200', '401']],
        ['/.well-known/jwks.json', 'get', ['200']],
        ['/health', 'get', ['200']],
        ['/ready', 'get', ['200', '503']],
        ['/metrics', 'get', ['200', '401']],
      ]
      for (const [path, method, statuses] of expected) {
        const op = doc.paths[path]?.[method]
        assert.ok(op, `${method.toUpperCase()} ${path} is documented`)
        for (const status of statuses)
          assert.ok(op.responses[status], `${method.toUpperCase()} ${path} documents ${status}`)
      }
      // Every route the app serves is in the document (Swagger UI's own assets and CORS aside).
      // printRoutes draws a tree; each level is indented by four characters and extends its parent.
      const stack: string[] = []
      let checked = 0
      for (const line of t.app.printRoutes({ commonPrefix: false }).split('\n')) {
        const m = /^([│ ]*)[├└]── (\S+) \(([^)]+)\)$/.exec(line)
        if (!m) continue
        const depth = (m[1] ?? '').length / 4
        stack.length = depth
        stack.push(m[2] ?? '')
        const url = stack.join('')
        if (url.startsWith('/docs') || url === '*' || url === '/openapi.json') continue
        const path = url.replace(/:(\w+)/g, '{$1}')
        for (const method of (m[3] ?? '').split(', ')) {
          if (method === 'HEAD' || method === 'OPTIONS') continue
          checked++
          const op = doc.paths[path]?.[method.toLowerCase()]
          assert.ok(op, `${method} ${path} missing from /openapi.json`)
          // The shutdown gate answers 503 on every route. (The JWKS route lives in src/auth, owned elsewhere.)
          if (path !== '/.well-known/jwks.json')
            assert.ok(op.responses['503'], `${method} ${path} documents 503`)
        }
      }
      assert.ok(checked >= 13, `checked ${checked} routes`)
    })

    it('GET /docs serves HTML and assets without any external URL', async () => {
      const page = await t.app.inject({ method: 'GET', url: '/docs' })
      const html =
        page.statusCode === 302
          ? await t.app.inject({ method: 'GET', url: String(page.headers.location) })
          : page
      const finalHtml =
        html.statusCode === 302
          ? await t.app.inject({ method: 'GET', url: `/docs/${html.headers.location}` })
          : html
      assert.equal(finalHtml.statusCode, 200)
      assert.match(String(finalHtml.headers['content-type']), /text\/html/)
      assert.doesNotMatch(finalHtml.body, /(src|href)=["']?(https?:)?\/\//i)
      const init = await t.app.inject({ method: 'GET', url: '/docs/static/swagger-initializer.js' })
      assert.equal(init.statusCode, 200)
      const code = init.body
        .split('\n')
        .filter((l) => !l.trim().startsWith('//'))
        .join('\n')
      assert.doesNotMatch(code, /https?:\/\//)
      // The CSP of /docs allows only the service itself, so no CDN could load even if linked.
      const csp = String(finalHtml.headers['content-security-policy'])
      assert.match(csp, /script-src 'self'/)
      assert.doesNotMatch(csp, /https?:|\*/)
    })
  })
}

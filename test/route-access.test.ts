// Walks every registered route and proves the access rules hold for each one:
// /v1 routes are public only by declaration (register, login, refresh), every other
// /v1 route declares its scope, and none answers without credentials or without its scope.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { RouteAccess } from '../src/http/authenticate.ts'
import { createApiToken, makeAdmin } from './auth-support.ts'
import { buildTestApp, errorOf, registerAndLogin, type TestApp, type TestUser } from './helpers.ts'

const SCOPES = ['tasks:read', 'tasks:write', 'webhooks:manage']
const PUBLIC_V1 = ['POST /v1/auth/register', 'POST /v1/auth/login', 'POST /v1/auth/refresh']

const urlOf = (route: RouteAccess) =>
  route.url.replace(/:[A-Za-z_]+/g, () => randomUUID()).replace(/\*/g, 'anything')
const label = (route: RouteAccess) => `${route.method} ${route.url}`

describe('every route declares and enforces its access', () => {
  let t: TestApp
  let admin: TestUser
  let routes: RouteAccess[]
  before(async () => {
    t = await buildTestApp({ CORS_ORIGINS: 'https://app.example' })
    admin = await registerAndLogin(t.app)
    await makeAdmin(t.app, admin)
    routes = t.app.routeAccess()
  })
  after(() => t.close())

  const call = (route: RouteAccess, headers: Record<string, string>) =>
    t.app.inject({
      method: route.method as 'GET',
      url: urlOf(route),
      headers: {
        ...headers,
        // The live stream never ends on its own; a malformed Last-Event-ID makes it answer 422
        // once access is granted, which is all this walk needs to see.
        ...(route.url === '/v1/events' ? { 'last-event-id': 'not-an-event-id' } : {}),
        ...(['POST', 'PATCH', 'PUT'].includes(route.method) ? { 'content-type': 'application/json' } : {}),
      },
      ...(['POST', 'PATCH', 'PUT'].includes(route.method) ? { payload: '{}' } : {}),
    })

  it('finds the routes', () => {
    assert.ok(routes.length > 20)
    assert.ok(routes.some((r) => r.url === '/v1/tasks/:id' && r.method === 'PATCH'))
  })

  it('public /v1 routes are exactly register, login and refresh; every other /v1 route names a scope', () => {
    const v1 = routes.filter((r) => r.url.startsWith('/v1'))
    assert.deepEqual(
      v1
        .filter((r) => r.public)
        .map(label)
        .sort(),
      [...PUBLIC_V1].sort(),
    )
    const undeclared = v1.filter((r) => !r.public && r.scope === undefined).map(label)
    assert.deepEqual(undeclared, [])
    for (const r of v1) if (r.scope !== undefined) assert.ok(['none', ...SCOPES].includes(r.scope), label(r))
  })

  it('routes outside /v1 are operational and public; nothing else is reachable without credentials', () => {
    for (const r of routes.filter((r) => !r.url.startsWith('/v1')))
      assert.ok(r.public, `${label(r)} should be public`)
  })

  it('no protected route answers without credentials or with a bad token', async () => {
    for (const route of routes.filter((r) => !r.public)) {
      const anon = await call(route, {})
      assert.equal(anon.statusCode, 401, `${label(route)} without credentials`)
      if (route.method !== 'HEAD') assert.equal(errorOf(anon).code, 'UNAUTHENTICATED', label(route))
      const bad = await call(route, { authorization: 'Bearer not.a.jwt' })
      assert.equal(bad.statusCode, 401, `${label(route)} with a bad token`)
      assert.equal(bad.headers['www-authenticate'], 'Bearer error="invalid_token"', label(route))
    }
  })

  it('no scoped route answers to a token that lacks its scope, and each answers to one that has it', async () => {
    for (const route of routes.filter((r) => !r.public && r.scope && r.scope !== 'none')) {
      const others = SCOPES.filter((s) => s !== route.scope)
      const lacking = await createApiToken(t.app, admin, { name: 'lacking', scopes: others })
      const res = await call(route, lacking.auth)
      assert.equal(res.statusCode, 403, `${label(route)} without ${route.scope}`)
      if (route.method !== 'HEAD') assert.equal(errorOf(res).code, 'INSUFFICIENT_SCOPE', label(route))
      const holding = await createApiToken(t.app, admin, { name: 'holding', scopes: [route.scope as string] })
      const ok = await call(route, holding.auth)
      assert.ok(![401, 403].includes(ok.statusCode), `${label(route)} with ${route.scope}: ${ok.statusCode}`)
    }
  })

  it('session-only routes refuse API tokens of every scope and answer an admin session', async () => {
    const all = await createApiToken(t.app, admin, { name: 'all', scopes: SCOPES })
    for (const route of routes.filter((r) => r.sessionOnly)) {
      const res = await call(route, all.auth)
      assert.equal(res.statusCode, 403, `${label(route)} with an API token`)
      const session = await call(route, admin.auth)
      assert.ok(
        ![401, 403].includes(session.statusCode),
        `${label(route)} with a session: ${session.statusCode}`,
      )
    }
  })

  it('CORS preflights need no credentials', async () => {
    const res = await t.app.inject({
      method: 'OPTIONS',
      url: '/v1/tasks',
      headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' },
    })
    assert.equal(res.statusCode, 204)
    assert.equal(res.headers['access-control-allow-origin'], 'https://app.example')
  })
})

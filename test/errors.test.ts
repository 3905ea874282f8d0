// Every API.md §1 status that applies, table-driven (PocketBase's ApiScenario):
// each scenario names the request, the status, the code and the headers it must carry.
// Every error body is { error: { code, message, details?, requestId } } with no stack or SQL.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { InjectOptions } from 'fastify'
import { loadSigningKey } from '../src/auth/keys.ts'
import { AccessTokens } from '../src/auth/tokens.ts'
import type { EventRecorder } from '../src/events/recorder.ts'
import { assertErrorBody } from './assertions.ts'
import {
  buildTestApp,
  createTask,
  PASSWORD,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
  uniqueEmail,
} from './helpers.ts'

interface Scenario {
  name: string
  app?: 'main' | 'strict'
  request: () => InjectOptions
  status: number
  code: string
  headers?: Record<string, RegExp>
  detailFields?: string[]
}

for (const engine of testEngines()) {
  describe(`error responses (${engine})`, () => {
    let main: TestApp
    let strict: TestApp
    let user: TestUser
    let other: TestUser
    let strictUser: TestUser
    let taskId: string
    let strictTaskId: string
    let readOnlyToken: string
    let foreignToken: string
    let wrongIssuerToken: string
    const keyDir = mkdtempSync(join(tmpdir(), 'tt-foreign-key-'))
    // Like ApiScenario's expected events: a refused request records none.
    let eventsRecorded = 0
    const countingEvents: EventRecorder = {
      async recordTaskEvent() {
        eventsRecorded++
      },
    }
    const takenEmail = uniqueEmail('taken')

    before(async () => {
      ;[main, strict] = await Promise.all([
        buildTestApp({}, { events: countingEvents }, engine),
        buildTestApp({ REQUIRE_IF_MATCH: true, BODY_LIMIT_BYTES: 1024 }, { events: countingEvents }, engine),
      ])
      ;[user, other, strictUser] = await Promise.all([
        registerAndLogin(main.app, { email: takenEmail }),
        registerAndLogin(main.app),
        registerAndLogin(strict.app),
      ])
      taskId = (await createTask(main.app, user)).id
      strictTaskId = (await createTask(strict.app, strictUser)).id
      const settings = {
        issuer: main.config.JWT_ISSUER,
        audience: main.config.JWT_AUDIENCE,
        accessTtlSeconds: 300,
      }
      // The app's own key from its DATA_DIR, so only the scope differs from a login token.
      const ownKey = await loadSigningKey({ dataDir: main.dataDir })
      readOnlyToken = await new AccessTokens(settings, ownKey).issue({ id: user.id, role: 'user' }, [
        'tasks:read',
      ])
      wrongIssuerToken = await new AccessTokens({ ...settings, issuer: 'someone-else' }, ownKey).issue(
        { id: user.id, role: 'user' },
        ['tasks:read', 'tasks:write'],
      )
      const foreignKey = await loadSigningKey({ dataDir: keyDir })
      foreignToken = await new AccessTokens(settings, foreignKey).issue({ id: user.id, role: 'user' }, [
        'tasks:read',
        'tasks:write',
      ])
    })
    after(async () => {
      await Promise.all([main.close(), strict.close()])
      rmSync(keyDir, { recursive: true, force: true })
    })

    const bearer = (token: string) => ({ authorization: `Bearer ${token}` })
    const noneAlg = () =>
      `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(
        JSON.stringify({ sub: user.id, role: 'admin', scope: 'tasks:read tasks:write', exp: 4e9 }),
      ).toString('base64url')}.`

    const scenarios: Scenario[] = [
      {
        name: 'malformed JSON',
        request: () => ({
          method: 'POST',
          url: '/v1/tasks',
          headers: { ...user.auth, 'content-type': 'application/json' },
          payload: '{"title": "x",',
        }),
        status: 400,
        code: 'MALFORMED_JSON',
      },
      {
        name: 'malformed JSON on register (public route)',
        request: () => ({
          method: 'POST',
          url: '/v1/auth/register',
          headers: { 'content-type': 'application/json' },
          payload: 'nope',
        }),
        status: 400,
        code: 'MALFORMED_JSON',
      },
      {
        name: 'no credentials',
        request: () => ({ method: 'GET', url: '/v1/tasks' }),
        status: 401,
        code: 'UNAUTHENTICATED',
        headers: { 'www-authenticate': /^Bearer/ },
      },
      {
        name: 'garbage token',
        request: () => ({ method: 'GET', url: '/v1/tasks', headers: bearer('not.a.jwt') }),
        status: 401,
        code: 'INVALID_TOKEN',
        headers: { 'www-authenticate': /^Bearer error="invalid_token"/ },
      },
      {
        name: 'token signed by another key',
        request: () => ({ method: 'GET', url: '/v1/tasks', headers: bearer(foreignToken) }),
        status: 401,
        code: 'INVALID_TOKEN',
        headers: { 'www-authenticate': /^Bearer error="invalid_token"/ },
      },
      {
        name: 'token from another issuer',
        request: () => ({ method: 'GET', url: '/v1/me', headers: bearer(wrongIssuerToken) }),
        status: 401,
        code: 'INVALID_TOKEN',
        headers: { 'www-authenticate': /^Bearer error="invalid_token"/ },
      },
      {
        name: 'alg none token',
        request: () => ({ method: 'GET', url: '/v1/tasks', headers: bearer(noneAlg()) }),
        status: 401,
        code: 'INVALID_TOKEN',
        headers: { 'www-authenticate': /^Bearer error="invalid_token"/ },
      },
      {
        name: 'Authorization that is not Bearer',
        request: () => ({
          method: 'GET',
          url: '/v1/tasks',
          headers: { authorization: 'Basic dXNlcjpwYXNz' },
        }),
        status: 401,
        code: 'INVALID_TOKEN',
      },
      {
        name: 'login with a wrong password',
        request: () => ({
          method: 'POST',
          url: '/v1/auth/login',
          payload: { email: takenEmail, password: 'wrong password here' },
        }),
        status: 401,
        code: 'INVALID_CREDENTIALS',
      },
      {
        name: 'login with an unknown email',
        request: () => ({
          method: 'POST',
          url: '/v1/auth/login',
          payload: { email: uniqueEmail('nobody'), password: PASSWORD },
        }),
        status: 401,
        code: 'INVALID_CREDENTIALS',
      },
      {
        name: 'changing a task of someone else',
        request: () => ({
          method: 'PATCH',
          url: `/v1/tasks/${taskId}`,
          headers: other.auth,
          payload: { title: 'x' },
        }),
        status: 403,
        code: 'FORBIDDEN',
      },
      {
        name: 'writing with a read-only token',
        request: () => ({
          method: 'POST',
          url: '/v1/tasks',
          headers: bearer(readOnlyToken),
          payload: { title: 'x' },
        }),
        status: 403,
        code: 'INSUFFICIENT_SCOPE',
        headers: { 'www-authenticate': /insufficient_scope/ },
      },
      {
        name: 'deleting with a read-only token',
        request: () => ({ method: 'DELETE', url: `/v1/tasks/${taskId}`, headers: bearer(readOnlyToken) }),
        status: 403,
        code: 'INSUFFICIENT_SCOPE',
      },
      {
        name: 'unknown route',
        request: () => ({ method: 'GET', url: '/v1/nothing-here' }),
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'unknown route with a token',
        request: () => ({ method: 'GET', url: '/v2/tasks', headers: user.auth }),
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'unknown task id',
        request: () => ({
          method: 'GET',
          url: '/v1/tasks/0193a000-0000-7000-8000-000000000000',
          headers: user.auth,
        }),
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'malformed task id',
        request: () => ({ method: 'GET', url: '/v1/tasks/42', headers: user.auth }),
        status: 404,
        code: 'NOT_FOUND',
      },
      {
        name: 'known path, other method',
        request: () => ({ method: 'PUT', url: '/v1/tasks', headers: user.auth, payload: {} }),
        status: 405,
        code: 'METHOD_NOT_ALLOWED',
        headers: { allow: /^(?=.*\bGET\b)(?=.*\bPOST\b)(?!.*\bPUT\b)/ },
      },
      {
        name: 'known task path, other method',
        request: () => ({ method: 'PUT', url: `/v1/tasks/${taskId}`, headers: user.auth, payload: {} }),
        status: 405,
        code: 'METHOD_NOT_ALLOWED',
        headers: { allow: /^(?=.*\bGET\b)(?=.*\bPATCH\b)(?=.*\bDELETE\b)/ },
      },
      {
        name: 'Accept excluding JSON',
        request: () => ({ method: 'GET', url: '/v1/tasks', headers: { ...user.auth, accept: 'text/html' } }),
        status: 406,
        code: 'NOT_ACCEPTABLE',
      },
      {
        name: 'taken email',
        request: () => ({
          method: 'POST',
          url: '/v1/auth/register',
          payload: { email: ` ${takenEmail.toUpperCase()} `, password: PASSWORD, name: 'Again' },
        }),
        status: 409,
        code: 'EMAIL_TAKEN',
      },
      {
        name: 'stale If-Match',
        request: () => ({
          method: 'PATCH',
          url: `/v1/tasks/${taskId}`,
          headers: { ...user.auth, 'if-match': '"v999"' },
          payload: { title: 'x' },
        }),
        status: 412,
        code: 'PRECONDITION_FAILED',
      },
      {
        name: 'body over BODY_LIMIT_BYTES',
        app: 'strict',
        request: () => ({
          method: 'POST',
          url: '/v1/tasks',
          headers: strictUser.auth,
          payload: { title: 'x', description: 'y'.repeat(2000) },
        }),
        status: 413,
        code: 'PAYLOAD_TOO_LARGE',
      },
      {
        name: 'body that is not JSON',
        request: () => ({
          method: 'POST',
          url: '/v1/tasks',
          headers: { ...user.auth, 'content-type': 'text/plain' },
          payload: 'title=x',
        }),
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: 'form-encoded body',
        request: () => ({
          method: 'POST',
          url: '/v1/auth/login',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          payload: 'email=a&password=b',
        }),
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      },
      {
        name: 'unknown and read-only fields, every problem listed',
        request: () => ({
          method: 'POST',
          url: '/v1/tasks',
          headers: user.auth,
          payload: { title: '', colour: 'red', ownerId: other.id, createdAt: 'now' },
        }),
        status: 422,
        code: 'VALIDATION_FAILED',
        detailFields: ['colour', 'createdAt', 'ownerId', 'title'],
      },
      {
        name: 'missing body on create',
        request: () => ({ method: 'POST', url: '/v1/tasks', headers: user.auth }),
        status: 422,
        code: 'VALIDATION_FAILED',
      },
      {
        name: 'JSON that is not an object',
        request: () => ({
          method: 'POST',
          url: '/v1/tasks',
          headers: { ...user.auth, 'content-type': 'application/json' },
          payload: '[1,2]',
        }),
        status: 422,
        code: 'VALIDATION_FAILED',
      },
      {
        name: 'register with every field wrong',
        request: () => ({
          method: 'POST',
          url: '/v1/auth/register',
          payload: { email: 'not-an-email', password: PASSWORD, name: '   ' },
        }),
        status: 422,
        code: 'VALIDATION_FAILED',
        detailFields: ['email', 'name'],
      },
      {
        name: 'bad query parameters',
        request: () => ({ method: 'GET', url: '/v1/tasks?limit=-1&status=open', headers: user.auth }),
        status: 422,
        code: 'VALIDATION_FAILED',
        detailFields: ['limit', 'status'],
      },
      {
        name: 'PATCH without If-Match where it is required',
        app: 'strict',
        request: () => ({
          method: 'PATCH',
          url: `/v1/tasks/${strictTaskId}`,
          headers: strictUser.auth,
          payload: { title: 'x' },
        }),
        status: 428,
        code: 'PRECONDITION_REQUIRED',
      },
    ]

    for (const s of scenarios) {
      it(`${s.status} ${s.code}: ${s.name}`, async () => {
        const app = s.app === 'strict' ? strict.app : main.app
        const eventsBefore = eventsRecorded
        const res = await app.inject(s.request())
        assert.equal(eventsRecorded, eventsBefore, 'a refused request records no event')
        assert.equal(res.statusCode, s.status, res.body)
        assertErrorBody(res, s.code)
        for (const [name, pattern] of Object.entries(s.headers ?? {}))
          assert.match(String(res.headers[name]), pattern, `${name}: ${res.headers[name]}`)
        if (s.detailFields) {
          const details = (res.json() as { error: { details?: { field: string }[] } }).error.details ?? []
          assert.deepEqual([...new Set(details.map((d) => d.field))].sort(), s.detailFields)
        }
      })
    }

    it('never answers 500 to odd input', async () => {
      const odd: InjectOptions[] = [
        { method: 'GET', url: '/v1/tasks?limit=1e400', headers: user.auth },
        { method: 'GET', url: '/v1/tasks?status=todo&status=done', headers: user.auth },
        { method: 'GET', url: `/v1/tasks/${'a'.repeat(300)}`, headers: user.auth },
        { method: 'GET', url: '/v1/tasks/%E0%A4%A', headers: user.auth },
        { method: 'GET', url: '/v1/tasks?q=%00', headers: user.auth },
        { method: 'GET', url: '/v1/tasks?dueBefore=2026-02-30T00:00:00Z', headers: user.auth },
        { method: 'GET', url: '/v1/tasks?dueBefore=0000-01-01T00:00:00Z', headers: user.auth },
        { method: 'GET', url: '/v1/tasks?dueAfter=9999-12-31T23:00:00-05:00', headers: user.auth },
        {
          method: 'POST',
          url: '/v1/tasks',
          headers: user.auth,
          payload: { title: 'x', dueAt: '0000-01-01T00:00:00-01:00' },
        },
        {
          method: 'POST',
          url: '/v1/tasks',
          headers: user.auth,
          payload: { title: 'x', description: 'a\u0000b' },
        },
        {
          method: 'PATCH',
          url: `/v1/tasks/${taskId}`,
          headers: user.auth,
          payload: { description: '\u0000' },
        },
        {
          method: 'POST',
          url: '/v1/tasks',
          headers: { ...user.auth, 'content-type': 'application/json' },
          payload: '{"title":"x","__proto__":{"admin":true}}',
        },
        {
          method: 'POST',
          url: '/v1/tasks',
          headers: user.auth,
          payload: { title: 'x', dueAt: '2026-02-30T00:00:00Z' },
        },
        { method: 'POST', url: '/v1/tasks', headers: user.auth, payload: { title: 'x', tags: [null] } },
        { method: 'PATCH', url: `/v1/tasks/${taskId}`, headers: user.auth, payload: { dueAt: 5 } },
        {
          method: 'POST',
          url: '/v1/tasks',
          headers: { ...user.auth, 'content-type': 'application/json; charset=latin1' },
          payload: '{"title":"x"}',
        },
      ]
      for (const request of odd) {
        const res = await main.app.inject(request)
        assert.ok(res.statusCode < 500, `${request.method} ${request.url}: ${res.statusCode} ${res.body}`)
        if (res.statusCode >= 400)
          assertErrorBody(res, (res.json() as { error: { code: string } }).error.code)
      }
    })
  })
}

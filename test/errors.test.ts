// Every API.md §1 status that applies, table-driven (PocketBase's ApiScenario):
// each scenario names the request, the status, the code and the headers it must carry.
// Every error body is { error: { code, message, details?, requestId } } with no stack or SQL.
import assert from 'node:assert/strict'
import { generateKeyPairSync, randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import type { InjectOptions } from 'fastify'
import { SignJWT } from 'jose'
import type { EventRecorder } from '../src/events/recorder.ts'
import { assertErrorBody } from './assertions.ts'
import { createApiToken } from './auth-support.ts'
import { errorScenarios, type ScenarioContext } from './error-scenarios.ts'
import {
  buildTestApp,
  createTask,
  registerAndLogin,
  type TestApp,
  testEngines,
  uniqueEmail,
} from './helpers.ts'

for (const engine of testEngines()) {
  describe(`error responses (${engine})`, () => {
    let main: TestApp
    let strict: TestApp
    // Filled in by before(); the scenarios read it lazily.
    const c = {} as ScenarioContext
    // Like ApiScenario's expected events: a refused request records none.
    let eventsRecorded = 0
    const countingEvents: EventRecorder = {
      async recordTaskEvent() {
        eventsRecorded++
      },
    }
    c.takenEmail = uniqueEmail('taken')

    before(async () => {
      ;[main, strict] = await Promise.all([
        buildTestApp({}, { events: countingEvents }, engine),
        buildTestApp({ REQUIRE_IF_MATCH: true, BODY_LIMIT_BYTES: 1024 }, { events: countingEvents }, engine),
      ])
      ;[c.user, c.other, c.strictUser] = await Promise.all([
        registerAndLogin(main.app, { email: c.takenEmail }),
        registerAndLogin(main.app),
        registerAndLogin(strict.app),
      ])
      c.taskId = (await createTask(main.app, c.user)).id
      c.strictTaskId = (await createTask(strict.app, c.strictUser)).id
      // A real API token holding only tasks:read, so only the scope differs from a login token.
      c.readOnlyToken = (
        await createApiToken(main.app, c.user, { name: 'read only', scopes: ['tasks:read'] })
      ).token
      // Well-formed EdDSA tokens from a key the service never had, one with a foreign issuer too.
      const foreignKey = generateKeyPairSync('ed25519').privateKey
      const foreign = (issuer: string) =>
        new SignJWT({ role: 'user', scope: 'tasks:read tasks:write' })
          .setProtectedHeader({ alg: 'EdDSA', kid: 'foreign-key', typ: 'JWT' })
          .setIssuer(issuer)
          .setAudience(main.config.JWT_AUDIENCE)
          .setSubject(c.user.id)
          .setJti(randomUUID())
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(foreignKey)
      c.foreignToken = await foreign(main.config.JWT_ISSUER)
      c.wrongIssuerToken = await foreign('someone-else')
    })
    after(async () => {
      await Promise.all([main.close(), strict.close()])
    })

    const scenarios = errorScenarios(c)

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
        { method: 'GET', url: '/v1/tasks?limit=1e400', headers: c.user.auth },
        { method: 'GET', url: '/v1/tasks?status=todo&status=done', headers: c.user.auth },
        { method: 'GET', url: `/v1/tasks/${'a'.repeat(300)}`, headers: c.user.auth },
        { method: 'GET', url: '/v1/tasks/%E0%A4%A', headers: c.user.auth },
        { method: 'GET', url: '/v1/tasks?q=%00', headers: c.user.auth },
        { method: 'GET', url: '/v1/tasks?q=a%00b', headers: c.user.auth },
        { method: 'GET', url: '/v1/tasks?dueBefore=2026-02-30T00:00:00Z', headers: c.user.auth },
        { method: 'GET', url: '/v1/tasks?dueBefore=0000-01-01T00:00:00Z', headers: c.user.auth },
        { method: 'GET', url: '/v1/tasks?dueAfter=9999-12-31T23:00:00-05:00', headers: c.user.auth },
        {
          method: 'POST',
          url: '/v1/tasks',
          headers: c.user.auth,
          payload: { title: 'x', dueAt: '0000-01-01T00:00:00-01:00' },
        },
        {
          method: 'POST',
          url: '/v1/tasks',
          headers: c.user.auth,
          payload: { title: 'x', description: 'a\u0000b' },
        },
        {
          method: 'PATCH',
          url: `/v1/tasks/${c.taskId}`,
          headers: c.user.auth,
          payload: { description: '\u0000' },
        },
        {
          method: 'POST',
          url: '/v1/tasks',
          headers: { ...c.user.auth, 'content-type': 'application/json' },
          payload: '{"title":"x","__proto__":{"admin":true}}',
        },
        {
          method: 'POST',
          url: '/v1/tasks',
          headers: c.user.auth,
          payload: { title: 'x', dueAt: '2026-02-30T00:00:00Z' },
        },
        { method: 'POST', url: '/v1/tasks', headers: c.user.auth, payload: { title: 'x', tags: [null] } },
        { method: 'PATCH', url: `/v1/tasks/${c.taskId}`, headers: c.user.auth, payload: { dueAt: 5 } },
        {
          method: 'POST',
          url: '/v1/tasks',
          headers: { ...c.user.auth, 'content-type': 'application/json; charset=latin1' },
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

// Logs (API.md §6): one JSON line per request with requestId, userId, method,
// route, status and duration; never a password or token.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { EventRecorder } from '../src/events/recorder.ts'
import {
  buildTestApp,
  createTask,
  LogCapture,
  PASSWORD,
  registerAndLogin,
  type TestApp,
  testEngines,
} from './helpers.ts'

class RequestLogs extends LogCapture {
  forRequest(requestId: string): Record<string, unknown>[] {
    return this.entries().filter((e) => e.requestId === requestId)
  }
}

for (const engine of testEngines()) {
  describe(`request logs (${engine})`, () => {
    let t: TestApp
    const logs = new RequestLogs()
    let failEvents: false | true | Error = false
    const events: EventRecorder = {
      async recordTaskEvent() {
        if (failEvents instanceof Error) throw failEvents
        if (failEvents) throw new Error('simulated outbox failure')
      },
    }
    before(async () => {
      t = await buildTestApp({ LOG_LEVEL: 'info' }, { logStream: logs, events }, engine)
    })
    after(() => t.close())

    it('writes one line per request with requestId, userId, method, route, status and duration', async () => {
      const user = await registerAndLogin(t.app)
      const task = await createTask(t.app, user)
      const res = await t.app.inject({
        method: 'GET',
        url: `/v1/tasks/${task.id}?x=1`,
        headers: { ...user.auth, 'x-request-id': 'log-test-1' },
      })
      assert.equal(res.statusCode, 200)
      const lines = logs.forRequest('log-test-1')
      assert.equal(lines.length, 1, JSON.stringify(lines))
      const line = lines[0] as Record<string, unknown>
      assert.equal(line.userId, user.id)
      assert.equal(line.method, 'GET')
      assert.equal(line.route, '/v1/tasks/:id')
      assert.equal(line.status, 200)
      assert.equal(typeof line.durationMs, 'number')
      assert.equal(typeof line.time, 'number')
      assert.equal(line.level, 30)
    })

    it('logs failed and anonymous requests too, without a userId', async () => {
      await t.app.inject({ method: 'GET', url: '/v1/tasks', headers: { 'x-request-id': 'log-test-2' } })
      const [line, ...rest] = logs.forRequest('log-test-2')
      assert.equal(rest.length, 0)
      assert.equal(line?.status, 401)
      assert.equal(line?.userId, undefined)
      await t.app.inject({ method: 'GET', url: '/v1/nowhere', headers: { 'x-request-id': 'log-test-3' } })
      assert.equal(logs.forRequest('log-test-3')[0]?.status, 404)
    })

    it('logs an unexpected error with its stack and request id, and shows neither to the client', async () => {
      const user = await registerAndLogin(t.app)
      failEvents = true
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...user.auth, 'x-request-id': 'log-test-500' },
        payload: { title: 'boom' },
      })
      failEvents = false
      assert.equal(res.statusCode, 500)
      assert.doesNotMatch(res.body, /simulated|stack|\.ts/)
      const lines = logs.forRequest('log-test-500')
      const error = lines.find((l) => l.level === 50) as { err?: { stack?: string } } | undefined
      assert.ok(error, JSON.stringify(lines))
      assert.match(String(error.err?.stack), /simulated outbox failure/)
      assert.equal(lines.filter((l) => l.status === 500).length, 1)
    })

    it('redacts secret-named properties of a logged error at any depth, keeping its message and stack', async () => {
      const user = await registerAndLogin(t.app)
      const cause = Object.assign(new Error('inner failure'), { token: 'tok-in-cause-123' })
      failEvents = Object.assign(new Error('driver failed', { cause }), {
        password: 'pw-on-error-123',
        config: { connection: { secret: 'nested-secret-123', host: 'db.internal' } },
        attempts: [{ authorization: 'Bearer in-array-123' }],
      })
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...user.auth, 'x-request-id': 'log-test-redact' },
        payload: { title: 'boom' },
      })
      const thrown = failEvents
      failEvents = false
      assert.equal(res.statusCode, 500)
      const line = logs.forRequest('log-test-redact').find((l) => l.level === 50) as
        | { err: Record<string, unknown> & { config: { connection: Record<string, string> } } }
        | undefined
      assert.ok(line)
      const raw = logs.lines.join('\n')
      for (const secret of ['tok-in-cause-123', 'pw-on-error-123', 'nested-secret-123', 'in-array-123'])
        assert.ok(!raw.includes(secret), `log contains ${secret}`)
      assert.equal(line.err.password, '[redacted]')
      assert.equal(line.err.config.connection.secret, '[redacted]')
      assert.equal(line.err.config.connection.host, 'db.internal', 'only secrets are hidden')
      assert.match(String(line.err.message), /^driver failed/)
      assert.match(String(line.err.stack), /driver failed/)
      // The error the code holds is untouched.
      assert.equal((thrown as unknown as { password: string }).password, 'pw-on-error-123')
    })

    it('never writes a password or a token, even for failed logins and bad bearer tokens', async () => {
      const user = await registerAndLogin(t.app)
      await t.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email: user.email, password: 'a-wrong-password-123' },
      })
      await t.app.inject({
        method: 'POST',
        url: '/v1/auth/register',
        payload: { email: 'x', password: PASSWORD },
      })
      await t.app.inject({
        method: 'GET',
        url: '/v1/me',
        headers: { authorization: 'Bearer secret.looking.token' },
      })
      await t.app.inject({ method: 'GET', url: '/v1/me', headers: user.auth })
      const all = logs.lines.join('\n')
      for (const secret of [
        PASSWORD,
        'a-wrong-password-123',
        user.token,
        user.refreshToken,
        'secret.looking.token',
      ])
        assert.ok(!all.includes(secret), `log contains a secret: ${secret.slice(0, 12)}…`)
      assert.ok(logs.lines.length >= 6)
    })
  })
}

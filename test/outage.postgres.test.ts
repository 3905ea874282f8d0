// PostgreSQL outage, end to end against a throwaway cluster this test starts
// and stops: requests answer 503 SERVICE_UNAVAILABLE with Retry-After within
// 2 s (no hang), /ready is 503, /health stays 200, and the service recovers by
// itself when the database returns.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { buildApp } from '../src/app.ts'
import { configFrom } from '../src/config.ts'
import { createTask, errorOf, registerAndLogin, type TestUser } from './helpers.ts'
import { startThrowawayPostgres, type ThrowawayPostgres } from './throwaway-servers.ts'

describe('PostgreSQL outage', () => {
  let cluster: ThrowawayPostgres
  let app: FastifyInstance
  let user: TestUser
  let taskId: string
  const dataDir = mkdtempSync(join(tmpdir(), 'tt-outage-pg-'))

  before(async () => {
    cluster = await startThrowawayPostgres()
    app = await buildApp(
      configFrom({
        DATABASE_URL: cluster.url,
        DATA_DIR: dataDir,
        LOG_LEVEL: 'silent',
        DATABASE_CONNECT_TIMEOUT_MS: 1000,
        RATE_LIMIT_PER_MINUTE: 100_000,
        RATE_LIMIT_AUTH_PER_MINUTE: 100_000,
      }),
      { backgroundJobs: false },
    )
    user = await registerAndLogin(app)
    taskId = (await createTask(app, user)).id
  })

  after(async () => {
    await app?.close()
    await cluster?.destroy()
    rmSync(dataDir, { recursive: true, force: true })
  })

  const timed = async (request: InjectOptions) => {
    const started = performance.now()
    const res = await app.inject(request)
    return { res, ms: performance.now() - started }
  }

  it('answers 503 with Retry-After within 2 s while the database is down, then recovers', async () => {
    await cluster.stop()

    const requests: InjectOptions[] = [
      { method: 'GET' as const, url: '/v1/tasks', headers: user.auth },
      { method: 'GET' as const, url: `/v1/tasks/${taskId}`, headers: user.auth },
      { method: 'POST' as const, url: '/v1/tasks', headers: user.auth, payload: { title: 'during outage' } },
      {
        method: 'POST' as const,
        url: '/v1/auth/login',
        payload: { email: user.email, password: 'whatever it is' },
      },
    ]
    for (const request of requests) {
      const { res, ms } = await timed(request)
      assert.equal(res.statusCode, 503, `${request.method} ${request.url}: ${res.body}`)
      assert.ok(ms < 2000, `${request.method} ${request.url} took ${ms} ms`)
      assert.equal(errorOf(res).code, 'SERVICE_UNAVAILABLE')
      assert.match(String(res.headers['retry-after']), /^[1-9][0-9]*$/)
      assert.doesNotMatch(res.body, /ECONNREFUSED|postgres|127\.0\.0\.1/i)
    }

    const ready = await timed({ url: '/ready' })
    assert.equal(ready.res.statusCode, 503)
    assert.ok(ready.ms < 2000, `/ready took ${ready.ms} ms`)
    assert.equal((await app.inject({ url: '/health' })).statusCode, 200)
    // Public routes do not check a credential sent to them: they answer as without one.
    for (const url of ['/health', '/.well-known/jwks.json']) {
      const withToken = await timed({ url, headers: user.auth })
      assert.equal(withToken.res.statusCode, 200, `${url}: ${withToken.res.body}`)
      assert.ok(withToken.ms < 500, `${url} with a token took ${withToken.ms} ms`)
    }
    // /metrics answers during the outage; what only the database knows is NaN (prom-client writes "Nan",
    // which Prometheus reads as NaN).
    const metrics = await app.inject({ url: '/metrics' })
    assert.equal(metrics.statusCode, 200, metrics.body)
    assert.match(metrics.body, /^webhook_deliveries_pending NaN$/im)
    assert.match(metrics.body, /^webhook_oldest_pending_delivery_age_seconds NaN$/im)
    assert.match(metrics.body, /^http_requests_total\{/m)

    await cluster.start()
    let readyAgain = false
    for (let i = 0; i < 100 && !readyAgain; i++) {
      readyAgain = (await app.inject({ url: '/ready' })).statusCode === 200
      if (!readyAgain) await sleep(100)
    }
    assert.ok(readyAgain, '/ready did not turn 200 after the database came back')
    const list = await app.inject({ url: '/v1/tasks', headers: user.auth })
    assert.equal(list.statusCode, 200)
    const body = list.json() as { items: { id: string }[]; page: { total: number } }
    assert.deepEqual(
      body.items.map((t) => t.id),
      [taskId],
      'the write attempted during the outage must not have happened',
    )
    assert.equal(body.page.total, 1)
    assert.equal((await createTask(app, user, { title: 'after recovery' })).version, 1)
  })
})

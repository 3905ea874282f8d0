// Redis outage, end to end against a throwaway redis-server this test starts
// and stops: rate limits are counted in Redis while it is up; when it goes away
// the service keeps answering with per-instance limits (still enforced), logs
// one warning however many requests arrive, and shares counters again once
// Redis is back.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import { buildTestApp, LogCapture, registerAndLogin, type TestApp, type TestUser } from './helpers.ts'
import { startThrowawayRedis, type ThrowawayRedis } from './throwaway-servers.ts'

const LIMIT = 5

describe('Redis outage', () => {
  let redis: ThrowawayRedis
  let t: TestApp
  const capture = new LogCapture()
  const logs = () => capture.entries()
  const prefix = `tt-test-${process.pid}-${Date.now()}:`

  before(async () => {
    redis = await startThrowawayRedis()
    t = await buildTestApp(
      { REDIS_URL: redis.url, REDIS_KEY_PREFIX: prefix, RATE_LIMIT_PER_MINUTE: LIMIT, LOG_LEVEL: 'info' },
      { logStream: capture },
    )
  })
  after(async () => {
    await t?.close()
    await redis?.destroy()
  })

  const list = async (user: TestUser) => {
    const started = performance.now()
    const res = await t.app.inject({ url: '/v1/tasks', headers: user.auth })
    assert.ok(performance.now() - started < 2000, 'a request waited on Redis')
    return res.statusCode
  }
  const burst = async (user: TestUser, n: number) => {
    const codes: number[] = []
    for (let i = 0; i < n; i++) codes.push(await list(user))
    return codes
  }
  const rateLimitKeys = async () => {
    const probe = new Redis(redis.url, { lazyConnect: true, maxRetriesPerRequest: 1 })
    try {
      await probe.connect()
      return await probe.keys(`${prefix}*`)
    } finally {
      probe.disconnect()
    }
  }
  const outageWarnings = () => logs().filter((l) => l.level === 40 && /Redis is unavailable/.test(l.msg))

  it('counts in Redis, falls back to per-instance limits while it is down, and recovers', async () => {
    const alice = await registerAndLogin(t.app)
    assert.deepEqual(await burst(alice, LIMIT + 1), [...Array(LIMIT).fill(200), 429])
    assert.ok((await rateLimitKeys()).length > 0, 'the counters live in Redis')
    // On a loaded machine a command can outlive its 500 ms timeout before the outage, which is a
    // (short) outage of its own with its own warning; count only what the real outage logs.
    const warnedBefore = outageWarnings().length

    await redis.stop()
    // A new user: fresh counters in the in-process store, and the limit is still enforced there.
    const bob = await registerAndLogin(t.app)
    assert.deepEqual(await burst(bob, LIMIT + 2), [...Array(LIMIT).fill(200), 429, 429])
    assert.equal(outageWarnings().length - warnedBefore, 1, 'one warning per outage, not one per request')
    const loggedDuringOutage = capture.lines.length

    await redis.start()
    const carol = await registerAndLogin(t.app)
    let keys: string[] = []
    for (let i = 0; i < 60 && keys.length === 0; i++) {
      await list(carol)
      keys = await rateLimitKeys()
      if (keys.length === 0) await sleep(100)
    }
    assert.ok(keys.length > 0, 'counting did not move back to Redis after it returned')
    assert.ok(
      logs()
        .slice(loggedDuringOutage)
        .some((l) => /Redis is back/.test(l.msg)),
      'the return of Redis was not logged',
    )
    assert.equal(outageWarnings().length - warnedBefore, 1)
  })
})

// A Redis that refuses the service's password, end to end against a throwaway redis-server
// started with --requirepass: the service keeps answering (rate limits per instance), says so
// in its log, and no line of that log holds the password it tried. ioredis attaches the failed
// command to its errors ({ name, args }), and the handshake it rejects is `HELLO 3 AUTH <user>
// <password>`, so the warnings about the outage carried the password until the log scrubbed it.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildTestApp, LogCapture, registerAndLogin, type TestApp } from './helpers.ts'
import { startThrowawayRedis, type ThrowawayRedis } from './throwaway-servers.ts'

const WRONG = 'not-the-redis-password-7f3a9c'

describe('Redis refusing the password', () => {
  let redis: ThrowawayRedis
  let t: TestApp
  const logs = new LogCapture()

  before(async () => {
    redis = await startThrowawayRedis({ password: 'the-right-one-4b1d' })
    const url = new URL(redis.url)
    url.password = WRONG
    t = await buildTestApp({ REDIS_URL: url.toString(), LOG_LEVEL: 'info' }, { logStream: logs })
  })
  after(async () => {
    await t?.close()
    await redis?.destroy()
  })

  it('keeps serving and logs the outage without the password', async () => {
    const user = await registerAndLogin(t.app)
    for (let i = 0; i < 5; i++) {
      const res = await t.app.inject({ url: '/v1/tasks', headers: user.auth })
      assert.equal(res.statusCode, 200)
    }
    // The wake-up subscriber's queued SUBSCRIBE is rejected with the handshake's error.
    for (let i = 0; i < 50 && !logs.lines.some((l) => /wake-ups reach this instance only/.test(l)); i++)
      await sleep(100)
    const warnings = logs.entries().filter((l) => l.level === 40)
    const messages = warnings.map((l) => l.msg)
    assert.ok(
      messages.some((m) => /rate limits are counted per instance/.test(m)),
      `the rate limits' outage is logged: ${JSON.stringify(messages)}`,
    )
    assert.ok(
      messages.some((m) => /wake-ups reach this instance only/.test(m)),
      `the wake-ups' outage is logged: ${JSON.stringify(messages)}`,
    )
    const leaking = logs.lines.filter((l) => l.includes(WRONG))
    assert.deepEqual(leaking, [], 'no log line holds the password')
  })
})

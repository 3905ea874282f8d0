// Outbox pieces on their own: retention keeps what pending deliveries need, the signer matches
// the Standard Webhooks test vector, the SSRF address rules and the retry schedule.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { startEventRetention } from '../src/events/retention.ts'
import { parseRetrySchedule, retryAfterMs, withJitter } from '../src/webhooks/retry.ts'
import { signDelivery } from '../src/webhooks/signature.ts'
import { isForbiddenAddress } from '../src/webhooks/ssrf.ts'
import { buildTestApp, createTask, registerAndLogin, type TestApp, testEngines } from './helpers.ts'

for (const engine of testEngines()) {
  describe(`event retention (${engine})`, () => {
    let t: TestApp
    before(async () => {
      t = await buildTestApp({ WEBHOOK_ALLOW_PRIVATE: true }, { backgroundJobs: false }, engine)
    })
    after(() => t.close())

    it('purges events past retention but keeps those a pending delivery still needs', async () => {
      const user = await registerAndLogin(t.app)
      const hook = await t.app.inject({
        method: 'POST',
        url: '/v1/webhooks',
        headers: user.auth,
        payload: { url: 'http://127.0.0.1:9/never', events: ['task.updated'] },
      })
      assert.equal(hook.statusCode, 201)
      const task = await createTask(t.app, user) // task.created: nobody subscribed
      const patch = await t.app.inject({
        method: 'PATCH',
        url: `/v1/tasks/${task.id}`,
        headers: user.auth,
        payload: { status: 'done' },
      })
      assert.equal(patch.statusCode, 200) // task.updated: one pending delivery (no dispatcher running)
      const db = t.app.database.db
      const types = async () =>
        (await db.selectFrom('events').select('type').orderBy('id').execute()).map((r) => r.type)
      assert.deepEqual(await types(), ['task.created', 'task.updated'])

      const later = () => new Date(Date.now() + 3 * 3_600_000)
      const job = startEventRetention({
        database: t.app.database,
        clock: later,
        retentionHours: 2,
        intervalSeconds: 3600,
        log: t.app.log,
      })
      const keep = startEventRetention({
        database: t.app.database,
        clock: () => new Date(),
        retentionHours: 2,
        intervalSeconds: 3600,
        log: t.app.log,
      })
      try {
        assert.equal(await keep.runOnce(), 0, 'nothing is past retention yet')
        assert.equal(await job.runOnce(), 1)
        assert.deepEqual(await types(), ['task.updated'], 'the pending delivery keeps its event')
        await sql`UPDATE webhook_deliveries SET status = 'succeeded'`.execute(db)
        assert.equal(await job.runOnce(), 1)
        assert.deepEqual(await types(), [])
        const left = await db.selectFrom('webhook_deliveries').select('id').execute()
        assert.equal(left.length, 0, 'finished deliveries go with their event')
      } finally {
        await job.stop()
        await keep.stop()
      }
    })
  })
}

describe('webhook signing, address rules and retry schedule', () => {
  it('signs like the Standard Webhooks reference test vector', () => {
    assert.equal(
      signDelivery(
        'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
        'msg_p5jXN8AQM9LWM0D4loKWxJek',
        1614265330,
        '{"test": 2432232314}',
      ),
      'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
    )
  })

  it('refuses internal addresses in every notation and allows public ones', () => {
    for (const address of [
      '127.0.0.1',
      '10.0.0.1',
      '172.31.255.255',
      '192.168.0.1',
      '169.254.169.254',
      '100.64.0.1',
      '0.0.0.0',
      '::1',
      '::',
      '::ffff:127.0.0.1',
      '::ffff:7f00:1',
      '::ffff:169.254.169.254',
      'fd00:ec2::254',
      'fe80::1',
      'fc00::1',
      '64:ff9b::a00:1',
      'not-an-ip',
    ])
      assert.equal(isForbiddenAddress(address), true, address)
    for (const address of ['93.184.216.34', '8.8.8.8', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
      assert.equal(isForbiddenAddress(address), false, address)
  })

  it('parses the retry schedule and bounds Retry-After', () => {
    assert.deepEqual(parseRetrySchedule('5s,5m,2h,7'), [5000, 300_000, 7_200_000, 7000])
    assert.equal(retryAfterMs('120', 0), 120_000)
    assert.equal(retryAfterMs('0', 0), 1000)
    assert.equal(retryAfterMs('999999999', 0), 24 * 3_600_000)
    assert.equal(retryAfterMs('soon', 0), undefined)
    assert.equal(retryAfterMs(new Date(60_000).toUTCString(), 0), 60_000)
    assert.equal(
      withJitter(1000, () => 0),
      800,
    )
    assert.equal(
      withJitter(1000, () => 1),
      1200,
    )
  })
})

// Wake-ups reach subscribers on other instances: two apps over one PostgreSQL
// schema, through PostgreSQL LISTEN/NOTIFY without Redis and through Redis
// pub/sub with it; each publisher's own subscribers are woken exactly once.
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { tmpdir } from 'node:os'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildApp } from '../src/app.ts'
import { configFrom } from '../src/config.ts'
import { buildTestApp, createTask, freshPostgresSchema, registerAndLogin } from './helpers.ts'

async function twoApps(withRedis: boolean) {
  const schema = await freshPostgresSchema()
  const redis = withRedis
    ? {
        REDIS_URL: process.env.TEST_REDIS_URL ?? '',
        REDIS_KEY_PREFIX: `tt-test-wake-${process.pid}-${Date.now()}:`,
      }
    : {}
  const config = configFrom({
    DATABASE_URL: schema.url,
    LOG_LEVEL: 'silent',
    DATA_DIR: tmpdir(),
    ...redis,
  })
  // One after the other: the second finds the schema migrated.
  const first = await buildApp({ ...config, JWT_PRIVATE_KEY: testKey }, { backgroundJobs: false })
  const second = await buildApp({ ...config, JWT_PRIVATE_KEY: testKey }, { backgroundJobs: false })
  return {
    apps: [first, second] as const,
    async close() {
      await first.close()
      await second.close()
      await schema.drop()
    },
  }
}

const testKey = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()

async function waitFor(check: () => boolean, ms = 5000): Promise<boolean> {
  for (let waited = 0; waited < ms; waited += 20) {
    if (check()) return true
    await sleep(20)
  }
  return check()
}

for (const withRedis of [false, true])
  describe(`wake-ups across instances (${withRedis ? 'redis' : 'postgres'})`, () => {
    it('wakes subscribers on the other instance and the publisher’s own once', async () => {
      const { apps, close } = await twoApps(withRedis)
      try {
        const [one, two] = apps
        assert.equal(one.wakeups.transport, withRedis ? 'redis' : 'postgres')
        let local = 0
        let remote = 0
        let other = 0
        one.wakeups.subscribe('events', () => local++)
        const unsubscribe = two.wakeups.subscribe('events', () => remote++)
        two.wakeups.subscribe('webhooks', () => other++)
        // The remote subscription is live once a publish gets through; retry until then.
        for (let i = 0; i < 50 && remote === 0; i++) {
          await one.wakeups.publish('events')
          await waitFor(() => remote > 0, 200)
        }
        assert.ok(remote > 0, 'the other instance was not woken')
        const before = { local, remote }
        await one.wakeups.publish('events')
        assert.ok(await waitFor(() => remote === before.remote + 1))
        assert.equal(local, before.local + 1, 'the publisher’s own subscriber is woken once')
        assert.equal(other, 0, 'other channels are not woken')
        unsubscribe()
        await one.wakeups.publish('events')
        await sleep(200)
        assert.equal(remote, before.remote + 1)
        assert.throws(() => one.wakeups.subscribe('Bad Channel!', () => {}))
      } finally {
        await close()
      }
    })
  })

describe('task events fan out through Redis (REDIS_URL set)', () => {
  it('a change committed on one instance wakes event readers on the other through Redis pub/sub', async () => {
    const { apps, close } = await twoApps(true)
    try {
      const [one, two] = apps
      let remote = 0
      two.wakeups.subscribe('events', () => remote++)
      // Wait until the other instance's subscription is live.
      for (let i = 0; i < 50 && remote === 0; i++) {
        await one.wakeups.publish('events')
        await waitFor(() => remote > 0, 200)
      }
      const before = remote
      const user = await registerAndLogin(one)
      await createTask(one, user)
      assert.ok(await waitFor(() => remote > before), 'no Redis wake-up after the change committed')
      // A refused change commits nothing and publishes nothing.
      const settled = remote
      const refused = await one.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: user.auth,
        payload: { title: '' },
      })
      assert.equal(refused.statusCode, 422)
      await sleep(300)
      assert.equal(remote, settled)
    } finally {
      await close()
    }
  })
})

describe('wake-ups on one instance (sqlite, no Redis)', () => {
  it('wakes in-process subscribers', async () => {
    const t = await buildTestApp()
    try {
      let woken = 0
      t.app.wakeups.subscribe('events', () => woken++)
      await t.app.wakeups.publish('events')
      assert.equal(t.app.wakeups.transport, 'local')
      assert.equal(woken, 1)
    } finally {
      await t.close()
    }
  })
})

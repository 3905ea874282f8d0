// PostgreSQL wake-ups (src/wakeup.ts) keep one listening session per instance, and everything
// that instance sends through it (a LISTEN per channel, a NOTIFY per publish) comes at any time.
// They run on that session one at a time: several LISTENs at connect and a burst of publishes
// reach the other instance, and none of them is queued inside pg behind another (pg deprecates
// that and drops it in pg@9).
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import pino from 'pino'
import { openWakeups, type Wakeups } from '../src/wakeup.ts'
import { freshPostgresSchema, watchQueuedQueries } from './helpers.ts'

describe('wake-ups on one PostgreSQL session (postgres)', () => {
  const busy = watchQueuedQueries()
  const opened: Wakeups[] = []
  let drop: (() => Promise<void>) | undefined
  after(async () => {
    busy.stop()
    for (const w of opened) await w.close()
    await drop?.()
  })

  it('listens on every channel and sends a burst of publishes, one query at a time', async () => {
    const schema = await freshPostgresSchema()
    drop = schema.drop
    const log = pino({ level: 'silent' })
    const one = openWakeups({ postgresUrl: schema.url, log })
    const two = openWakeups({ postgresUrl: schema.url, log })
    opened.push(one, two)
    const channels = ['alpha', 'beta', 'gamma', 'delta']
    const woken = new Map(channels.map((c) => [c, 0]))
    // Subscribed in one tick: the session connects once and listens on all four at once.
    for (const channel of channels) {
      two.subscribe(channel, () => woken.set(channel, (woken.get(channel) ?? 0) + 1))
      one.subscribe(channel, () => {}) // the publisher's own session, busy with LISTENs too
    }
    const allWoken = () => channels.every((c) => (woken.get(c) ?? 0) > 0)
    for (let i = 0; i < 100 && !allWoken(); i++) {
      await Promise.all(channels.flatMap((c) => [one.publish(c), one.publish(c)]))
      await sleep(20)
    }
    assert.ok(allWoken(), `every channel reaches the other instance: ${JSON.stringify([...woken])}`)
    assert.deepEqual(busy.queued(), [])
  })
})

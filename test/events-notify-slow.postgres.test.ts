// When the database answers slower than NOTIFY_SPACING_MS, the event signal (src/events/signal.ts)
// still has at most one NOTIFY in flight on its connection: commits made while one is being sent
// go out together in the next, once it returns. They are not queued inside pg behind each other
// (pg deprecates that and drops it in pg@9), and they do not pile up on the slow database. The
// slowness is a delay of this test's own between the signal and a real PostgreSQL: every chunk
// either way waits 25 ms in a proxy on loopback.
import assert from 'node:assert/strict'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import pino from 'pino'
import { EVENTS_CHANNEL, type EventSignal, postgresEventSignal } from '../src/events/signal.ts'
import { freshPostgresSchema, watchQueuedQueries } from './helpers.ts'

const DELAY_MS = 25

/** A TCP proxy to host:port that holds every chunk, in order, for DELAY_MS. */
async function slowProxy(host: string, port: number): Promise<{ server: Server; port: number }> {
  const delayed = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => setTimeout(() => to.destroyed || to.write(chunk), DELAY_MS))
    from.on('close', () => setTimeout(() => to.destroy(), DELAY_MS))
    from.on('error', () => {})
  }
  const server = createServer((client) => {
    const upstream = createConnection(port, host)
    delayed(client, upstream)
    delayed(upstream, client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as { port: number }).port }
}

describe('event NOTIFYs on a slow database (postgres)', () => {
  const busy = watchQueuedQueries()
  const cleanups: (() => Promise<unknown>)[] = []
  after(async () => {
    busy.stop()
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  })

  it('sends one at a time and covers the commits made meanwhile', async () => {
    const schema = await freshPostgresSchema()
    cleanups.push(() => schema.drop())
    const listener = new pg.Client({ connectionString: schema.url })
    await listener.connect()
    cleanups.push(() => listener.end())
    const name = (await listener.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s
    let notifies = 0
    listener.on('notification', (n) => {
      if (n.channel === EVENTS_CHANNEL && n.payload === name) notifies++
    })
    await listener.query(`LISTEN ${EVENTS_CHANNEL}`)

    const url = new URL(schema.url)
    const proxy = await slowProxy(url.hostname, Number(url.port || 5432))
    cleanups.push(() => new Promise((resolve) => proxy.server.close(resolve)))
    url.host = `127.0.0.1:${proxy.port}`
    const signal: EventSignal = postgresEventSignal(url.toString(), pino({ level: 'silent' }))
    await signal.start()
    cleanups.push(() => signal.close())

    // 300 ms of commits, one every 2 ms; a NOTIFY's round trip through the proxy is over 50 ms.
    const started = performance.now()
    while (performance.now() - started < 300) {
      signal.committed()
      await sleep(2)
    }
    await sleep(4 * DELAY_MS + 300)
    assert.deepEqual(busy.queued(), [])
    // Spaced by their round trips, each at least 2 × DELAY_MS: at most 7 start within the 300 ms
    // and one more after them (7 here). Sent every 10 ms and queued in pg, they were 13.
    assert.ok(notifies >= 2, `the commits made while the first NOTIFY was out are announced: ${notifies}`)
    assert.ok(notifies <= 8, `one NOTIFY at a time: ${notifies}`)

    // A commit made while a NOTIFY is out is announced by one more, sent when that one returns.
    const before = notifies
    signal.committed() // sent at once: the burst's last NOTIFY returned long ago
    await sleep(5) // still out: its round trip takes at least 2 × DELAY_MS
    signal.committed()
    await sleep(4 * DELAY_MS + 300)
    assert.equal(notifies - before, 2, 'the NOTIFY that was out, and one for the commit made meanwhile')
  })
})

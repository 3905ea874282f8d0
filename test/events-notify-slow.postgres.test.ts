// The event signal's connection to PostgreSQL (src/events/signal.ts) when the database is slow
// or the connection dies without a word.
//
// When the database answers slower than NOTIFY_SPACING_MS, the signal still has at most one
// NOTIFY in flight on its connection: commits made while one is being sent go out together in
// the next, once it returns. They are not queued inside pg behind each other (pg deprecates that
// and drops it in pg@9), and they do not pile up on the slow database.
//
// When the connection goes silent (a peer behind a firewall that drops packets, an address that
// failed over), a NOTIFY times out, the signal ends the session and connects again, and the
// commits it could not announce are announced on the new one. While it cannot connect at all, it
// logs the outage once, and once more when it is back.
//
// The slowness and the silence are this test's own: a proxy on loopback between the signal and a
// real PostgreSQL holds every chunk for a while, or stops passing anything on.
import assert from 'node:assert/strict'
import { createConnection, createServer, type Socket } from 'node:net'
import { after, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import pino from 'pino'
import { EVENTS_CHANNEL, type EventSignal, postgresEventSignal } from '../src/events/signal.ts'
import { waitFor } from './events-support.ts'
import { freshPostgresSchema, watchQueuedQueries } from './helpers.ts'

const DELAY_MS = 25

interface Proxy {
  port: number
  /** One entry per connection the proxy accepted: whether its client side has closed. */
  connections: { closed: boolean }[]
  /** From now on the connections open so far pass nothing either way, and never close. */
  silence(): void
  /** Destroys every connection open so far, silent ones too. */
  drop(): void
  /** While on, every new connection is closed as soon as it is accepted (and counted in `refused`). */
  refuse(on: boolean): void
  refused: number
  /** Drops every connection and stops listening. */
  close(): Promise<void>
}

/** A TCP proxy to host:port that holds every chunk, in order, for `delayMs`. */
async function proxy(host: string, port: number, delayMs: number): Promise<Proxy> {
  const connections: { closed: boolean }[] = []
  const silenced = new Set<Socket>()
  const forward = (from: Socket, to: Socket) => {
    from.on('data', (chunk) => {
      if (silenced.has(from)) return
      setTimeout(() => to.destroyed || to.write(chunk), delayMs)
    })
    from.on('close', () => {
      if (!silenced.has(from)) setTimeout(() => to.destroy(), delayMs)
    })
    from.on('error', () => {})
  }
  const open: Socket[] = []
  let refusing = false
  const server = createServer((client) => {
    if (refusing) {
      line.refused++
      client.destroy()
      return
    }
    const entry = { closed: false }
    connections.push(entry)
    client.on('close', () => {
      entry.closed = true
    })
    const upstream = createConnection(port, host)
    open.push(client, upstream)
    forward(client, upstream)
    forward(upstream, client)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const line: Proxy = {
    port: (server.address() as { port: number }).port,
    connections,
    silence: () => {
      for (const socket of open) silenced.add(socket)
    },
    drop: () => {
      for (const socket of open) socket.destroy()
    },
    refuse: (on) => {
      refusing = on
    },
    refused: 0,
    close: () => {
      for (const socket of open) socket.destroy()
      return new Promise((resolve) => server.close(() => resolve()))
    },
  }
  return line
}

/** A client of its own LISTENing on the events channel; counts the NOTIFYs for the URL's schema. */
async function countNotifies(url: string) {
  const listener = new pg.Client({ connectionString: url })
  await listener.connect()
  const schema = (await listener.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s
  const counter = { notifies: 0, close: () => listener.end() }
  listener.on('notification', (n) => {
    if (n.channel === EVENTS_CHANNEL && n.payload === schema) counter.notifies++
  })
  await listener.query(`LISTEN ${EVENTS_CHANNEL}`)
  return counter
}

describe('event NOTIFYs on a slow database (postgres)', () => {
  const busy = watchQueuedQueries()
  const cleanups: (() => Promise<unknown>)[] = []
  after(async () => {
    busy.stop()
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {})
  })

  /** A schema of its own, a client counting its NOTIFYs, and a proxy to its database. */
  async function behindProxy(delayMs: number) {
    const schema = await freshPostgresSchema()
    cleanups.push(() => schema.drop())
    const counter = await countNotifies(schema.url)
    cleanups.push(() => counter.close())
    const url = new URL(schema.url)
    const line = await proxy(url.hostname, Number(url.port || 5432), delayMs)
    cleanups.push(() => line.close())
    url.host = `127.0.0.1:${line.port}`
    return { counter, line, url: url.toString() }
  }

  it('sends one at a time and covers the commits made meanwhile', async () => {
    const { counter, url } = await behindProxy(DELAY_MS)
    const signal: EventSignal = postgresEventSignal(url, pino({ level: 'silent' }), {
      connectTimeoutMs: 5000,
      queryTimeoutMs: 5000,
    })
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
    assert.ok(
      counter.notifies >= 2,
      `the commits made while the first NOTIFY was out are announced: ${counter.notifies}`,
    )
    assert.ok(counter.notifies <= 8, `one NOTIFY at a time: ${counter.notifies}`)

    // A commit made while a NOTIFY is out is announced by one more, sent when that one returns.
    const before = counter.notifies
    signal.committed() // sent at once: the burst's last NOTIFY returned long ago
    await sleep(5) // still out: its round trip takes at least 2 × DELAY_MS
    signal.committed()
    await sleep(4 * DELAY_MS + 300)
    assert.equal(
      counter.notifies - before,
      2,
      'the NOTIFY that was out, and one for the commit made meanwhile',
    )
  })

  it('ends a connection gone silent, connects again and announces the commits it could not', async () => {
    const { counter, line, url } = await behindProxy(0)
    const logged: string[] = []
    const log = pino({ level: 'warn' }, { write: (line: string) => logged.push(line) })
    const signal = postgresEventSignal(url, log, { connectTimeoutMs: 2000, queryTimeoutMs: 1000 })
    await signal.start()
    cleanups.push(() => signal.close())
    let wakes = 0
    signal.onWake(() => wakes++)
    const warnings = () => logged.map((line) => JSON.parse(line).msg)

    signal.committed()
    await waitFor(() => counter.notifies === 1, 'the first NOTIFY', 3000)
    await sleep(200) // and its answer back through the proxy to the signal
    assert.equal(line.connections.length, 1)

    // The line goes silent: one commit's NOTIFY gets no answer, nor does anything else on it.
    line.silence()
    signal.committed()
    await waitFor(() => line.connections[0]?.closed, 'the silent connection to be ended', 4000)
    assert.equal(counter.notifies, 1, 'nothing got through the silent line')
    assert.deepEqual(warnings(), ['event NOTIFY failed; reconnecting the event listener'])
    // The signal connects again (2 s later), wakes its readers and announces that commit.
    let wakesBefore = wakes
    await waitFor(() => counter.notifies === 2, 'a NOTIFY on the new connection', 6000)
    assert.equal(line.connections.length, 2, 'one new connection')
    assert.ok(wakes > wakesBefore, "this instance's readers are woken to catch up once it is back")

    // The connection drops (no NOTIFY out); a commit made before the signal is back is announced
    // once it is.
    await sleep(200)
    line.drop()
    await sleep(200)
    signal.committed()
    wakesBefore = wakes
    await waitFor(() => counter.notifies === 3, 'a NOTIFY on the third connection', 6000)
    assert.equal(line.connections.length, 3, 'one new connection')
    assert.ok(wakes > wakesBefore)
    await sleep(300)
    assert.equal(counter.notifies, 3, 'one NOTIFY for each commit made while the line was down')
    assert.equal(warnings().length, 1, 'a dropped connection is not a failed NOTIFY')
    assert.deepEqual(busy.queued(), [])

    // And the new connection carries the next commit as usual.
    signal.committed()
    await waitFor(() => counter.notifies === 4, 'the next NOTIFY', 3000)
  })
  it('logs an outage once, however many attempts to connect fail, and once more when it is back', async () => {
    const { counter, line, url } = await behindProxy(0)
    const logged: { level: number; msg: string }[] = []
    const log = pino({ level: 'info' }, { write: (entry: string) => logged.push(JSON.parse(entry)) })
    const signal = postgresEventSignal(url, log, { connectTimeoutMs: 2000, queryTimeoutMs: 1000 })
    await signal.start()
    cleanups.push(() => signal.close())
    let wakes = 0
    signal.onWake(() => wakes++)
    const lines = () => logged.map(({ level, msg }) => [level, msg])
    const down: [number, string] = [40, 'event listener could not connect; polling until it can']

    // The database becomes unreachable: the session is dropped and every attempt to connect
    // again (one each 2 s) fails.
    line.refuse(true)
    line.drop()
    await waitFor(() => line.refused >= 2, 'two failed attempts to connect', 7000)
    assert.deepEqual(lines(), [down], 'one warning for the outage, not one per attempt')

    // Back: one line says so, and a commit made meanwhile is announced.
    signal.committed()
    line.refuse(false)
    await waitFor(() => counter.notifies === 1, 'a NOTIFY once connected again', 5000)
    assert.deepEqual(lines(), [
      down,
      [30, "event listener connected again: other instances' changes arrive as they commit"],
    ])

    // And it listens again: another instance's NOTIFY wakes this one's readers.
    await sleep(200)
    const before = wakes
    const other = new pg.Client({ connectionString: url })
    await other.connect()
    try {
      await other.query('SELECT pg_notify($1, current_schema())', [EVENTS_CHANNEL])
    } finally {
      await other.end()
    }
    await waitFor(() => wakes > before, "another instance's NOTIFY", 3000)
  })
})

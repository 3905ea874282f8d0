// Wake-ups for readers of the outbox (SSE streams, the webhook dispatcher). A wake-up only says
// "look at the table": the table is the truth, and readers also poll slowly, so a lost
// notification delays an event, never loses it.
import type { FastifyBaseLogger } from 'fastify'
import type pg from 'pg'
import { loadPg } from '../db/postgres.ts'
import { OutageLog } from '../outage-log.ts'

/** The PostgreSQL NOTIFY channel; the payload is the schema, so deployments sharing a database ignore each other. */
export const EVENTS_CHANNEL = 'task_tracker_events'

export interface EventSignal {
  wake(): void
  /**
   * A change recorded on this instance has committed. PostgreSQL: wakes this instance's readers
   * and announces the change to the other instances. In process, a no-op: the recorder woke the
   * readers inside the transaction (they queue behind it on SQLite's one connection).
   */
  committed(): void
  /** Calls `listener` on every wake-up; returns the unsubscribe function. */
  onWake(listener: () => void): () => void
  /** Connects whatever delivers wake-ups from other instances (called once the app is ready). */
  start(): Promise<void>
  close(): Promise<void>
}

/** In-process wake-ups only (SQLite: one process owns the file). */
export function localEventSignal(): EventSignal {
  const listeners = new Set<() => void>()
  return {
    wake() {
      for (const listener of listeners) listener()
    },
    committed() {},
    onWake(listener) {
      listeners.add(listener)
      return () => listeners.delete(listener)
    },
    async start() {},
    async close() {
      listeners.clear()
    },
  }
}

/**
 * At most one NOTIFY per this many milliseconds from one instance. A NOTIFY inside every write
 * woke every instance's listening connections, and through them every instance's readers, once
 * per write. With two instances and creates sent to one of them, announcing commits this way
 * instead took 32–39% off PostgreSQL's CPU per create and 68–72% off the other instance's, and
 * gave 32–54% more creates per second (five alternated rounds, 32 connections). Readers on
 * other instances learn of a burst of writes up to this much later.
 */
export const NOTIFY_SPACING_MS = 10

export interface PostgresSignalSettings {
  /** Longest wait to connect the listening session. */
  connectTimeoutMs: number
  /**
   * Longest wait for any query on the session (its first SELECT, the LISTEN, a NOTIFY). A query
   * that outlives it ends the session, and with it a connection that died without a word (a peer
   * gone behind a firewall or a failed-over address): pg would otherwise wait for the kernel to
   * give up on it, about 15 minutes with data unacknowledged, and no NOTIFY would be sent until
   * then.
   */
  queryTimeoutMs: number
}

/** After losing the listening session, wait this long before connecting again. */
const RECONNECT_MS = 2000

/**
 * PostgreSQL: LISTEN on a dedicated connection; other instances' changes arrive as
 * notifications. This instance announces its own after they commit (`committed`), on the same
 * connection, so a NOTIFY can never wake a reader before the change is visible: the first
 * commit after a quiet spell at once, later ones together, NOTIFY_SPACING_MS after the last
 * NOTIFY was sent and once it has returned. A crash between a commit and its NOTIFY only delays
 * the other instances' readers until they poll. Commits made while the connection is down, or
 * covered by a NOTIFY that failed, are announced by one NOTIFY once it is back. Reconnects after
 * losing the connection. An idle one that died is found by TCP keepalive (libuv probes it after
 * 10 s of silence, then every second, and gives up after 10 unanswered: about 20 s); a busy one
 * by the query timeout.
 */
export function postgresEventSignal(
  url: string,
  log: FastifyBaseLogger,
  settings: PostgresSignalSettings,
): EventSignal {
  const local = localEventSignal()
  // Attempts come every RECONNECT_MS for as long as the database is unreachable: one warning.
  const outage = new OutageLog(log, {
    down: 'event listener could not connect; polling until it can',
    back: "event listener connected again: other instances' changes arrive as they commit",
  })
  let client: pg.Client | undefined
  let closed = false
  let retry: NodeJS.Timeout | undefined
  let lastNotify = Number.NEGATIVE_INFINITY
  let notifyTimer: NodeJS.Timeout | undefined
  // One NOTIFY in flight at a time: a commit while one is being sent is covered by the next,
  // sent when it returns. pg would queue a second query on the busy connection, but that is
  // deprecated (gone in pg@9), and a slow database would have them pile up.
  let sending = false
  let again = false

  const notify = () => {
    notifyTimer = undefined
    const c = client
    if (!c) {
      again = true // announced once connected
      return
    }
    sending = true
    lastNotify = performance.now()
    c.query('SELECT pg_notify($1, current_schema())', [EVENTS_CHANNEL])
      .catch((err: unknown) => {
        // Timed out or failed: the session is not to be trusted. Ending it with the query still
        // out destroys the socket (pg does not wait for a dead peer); 'end' then reconnects, and
        // the commits this NOTIFY covered are announced on the new session.
        again = true
        if (client !== c) return // already lost, and being replaced
        client = undefined
        log.warn({ err }, 'event NOTIFY failed; reconnecting the event listener')
        void c.end().catch(() => {})
      })
      .finally(() => {
        sending = false
        if (again && client) {
          again = false
          schedule()
        }
      })
  }
  const schedule = () => {
    if (closed || notifyTimer) return // one is due: it covers this commit too
    if (sending) {
      again = true
      return
    }
    const wait = lastNotify + NOTIFY_SPACING_MS - performance.now()
    if (wait <= 0) notify()
    else notifyTimer = setTimeout(notify, wait)
  }
  const committed = () => {
    local.wake()
    schedule()
  }

  const connect = async () => {
    if (closed) return
    const c = new (loadPg().Client)({
      connectionString: url,
      application_name: 'task-tracker-events',
      connectionTimeoutMillis: settings.connectTimeoutMs,
      query_timeout: settings.queryTimeoutMs,
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
    })
    c.on('error', () => {}) // 'end' below handles the reconnect
    try {
      await c.connect()
      const { rows } = await c.query<{ schema: string; pid: number }>(
        'SELECT current_schema() AS schema, pg_backend_pid() AS pid',
      )
      const schema = rows[0]?.schema
      const ownPid = rows[0]?.pid
      c.on('notification', (n) => {
        // Its own NOTIFYs come back too: this instance's readers were woken when it committed.
        if (n.channel === EVENTS_CHANNEL && n.payload === schema && n.processId !== ownPid) local.wake()
      })
      c.on('end', () => {
        if (client === c) client = undefined
        scheduleReconnect()
      })
      await c.query(`LISTEN ${EVENTS_CHANNEL}`)
      if (closed) {
        await c.end().catch(() => {})
        return
      }
      client = c
      outage.ok()
      local.wake() // catch up on anything committed while not listening
      if (again) {
        again = false
        schedule() // and announce what this instance committed meanwhile
      }
    } catch (err) {
      outage.failed(err)
      await c.end().catch(() => {})
      scheduleReconnect()
    }
  }
  const scheduleReconnect = () => {
    if (closed || retry) return
    retry = setTimeout(() => {
      retry = undefined
      void connect()
    }, RECONNECT_MS)
    retry.unref()
  }
  return {
    wake: () => local.wake(),
    committed,
    onWake: (listener) => local.onWake(listener),
    // Not connected before the app is ready, so a failed build leaves no connection open.
    start: () => connect(),
    async close() {
      closed = true
      if (retry) clearTimeout(retry)
      if (notifyTimer) clearTimeout(notifyTimer)
      const c = client
      client = undefined
      await c?.end().catch(() => {})
      await local.close()
    },
  }
}

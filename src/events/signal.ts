// Wake-ups for readers of the outbox (SSE streams, the webhook dispatcher). A wake-up only says
// "look at the table": the table is the truth, and readers also poll slowly, so a lost
// notification delays an event, never loses it.
import type { FastifyBaseLogger } from 'fastify'
import type pg from 'pg'
import { loadPg } from '../db/postgres.ts'

/** The PostgreSQL NOTIFY channel; the payload is the schema, so deployments sharing a database ignore each other. */
export const EVENTS_CHANNEL = 'task_tracker_events'

export interface EventSignal {
  wake(): void
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
 * PostgreSQL: LISTEN on a dedicated connection. NOTIFY is sent inside the writing transaction,
 * and PostgreSQL delivers it only at commit, to every instance: a change made anywhere wakes
 * readers everywhere, and never before it is visible. Reconnects after losing the connection.
 */
export function postgresEventSignal(url: string, log: FastifyBaseLogger): EventSignal {
  const local = localEventSignal()
  let client: pg.Client | undefined
  let closed = false
  let retry: NodeJS.Timeout | undefined

  const connect = async () => {
    if (closed) return
    const c = new (loadPg().Client)({ connectionString: url, application_name: 'task-tracker-events' })
    c.on('error', () => {}) // 'end' below handles the reconnect
    try {
      await c.connect()
      const { rows } = await c.query<{ schema: string }>('SELECT current_schema() AS schema')
      const schema = rows[0]?.schema
      c.on('notification', (n) => {
        if (n.channel === EVENTS_CHANNEL && n.payload === schema) local.wake()
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
      local.wake() // catch up on anything committed while not listening
    } catch (err) {
      log.warn({ err }, 'event listener could not connect; polling until it can')
      await c.end().catch(() => {})
      scheduleReconnect()
    }
  }
  const scheduleReconnect = () => {
    if (closed || retry) return
    retry = setTimeout(() => {
      retry = undefined
      void connect()
    }, 2000)
    retry.unref()
  }
  return {
    wake: () => local.wake(),
    onWake: (listener) => local.onWake(listener),
    // Not connected before the app is ready, so a failed build leaves no connection open.
    start: () => connect(),
    async close() {
      closed = true
      if (retry) clearTimeout(retry)
      const c = client
      client = undefined
      await c?.end().catch(() => {})
      await local.close()
    },
  }
}

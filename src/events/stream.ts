// Live event streams (Server-Sent Events): each stream reads the outbox table from its position,
// woken by the event signal and by a slow poll, and writes `id:`-tagged events, so a client that
// reconnects with Last-Event-ID gets exactly what it missed (within retention).
import { PassThrough } from 'node:stream'
import type { FastifyBaseLogger } from 'fastify'
import type { Database } from '../db/database.ts'
import { OutageLog } from '../outage-log.ts'
import { type EventPosition, hasUnreadEvents, readEventsAfter } from './repository.ts'
import type { EventSignal } from './signal.ts'

const BATCH = 500
/** Output buffered beyond this waits for the client to read; one that stops reading is cut off (it resumes with Last-Event-ID). */
const MAX_BUFFERED_BYTES = 1024 * 1024
const DRAIN_TIMEOUT_MS = 30_000

/** Resolves true once the stream's buffer drained, false on timeout or close. */
function drained(out: PassThrough, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer)
      out.off('drain', onDrain)
      out.off('close', onClose)
      resolve(ok)
    }
    const onDrain = () => done(true)
    const onClose = () => done(false)
    const timer = setTimeout(() => done(false), timeoutMs)
    out.on('drain', onDrain)
    out.on('close', onClose)
  })
}

export interface StreamSettings {
  heartbeatMs: number
  pollIntervalMs: number
}

export class EventStreams {
  readonly #database: Database
  readonly #signal: EventSignal
  readonly #settings: StreamSettings
  readonly #log: FastifyBaseLogger
  /** Reads and credential checks failing (the database down), logged once per outage for all streams. */
  readonly #readOutage: OutageLog
  readonly #recheckOutage: OutageLog
  /** Each open stream, with how to end it from this side. */
  readonly #open = new Map<PassThrough, (comment: string) => void>()
  readonly #perUser = new Map<string, number>()

  constructor(deps: {
    database: Database
    signal: EventSignal
    settings: StreamSettings
    log: FastifyBaseLogger
  }) {
    this.#database = deps.database
    this.#signal = deps.signal
    this.#settings = deps.settings
    this.#log = deps.log
    this.#readOutage = new OutageLog(deps.log, {
      down: 'event streams cannot read events; retrying on each wake-up',
      back: 'event streams read events again',
    })
    this.#recheckOutage = new OutageLog(deps.log, {
      down: 'event streams cannot recheck their credentials; they stay open until a check succeeds',
      back: 'event streams recheck their credentials again',
    })
  }

  get openCount(): number {
    return this.#open.size
  }

  /** Streams `userId` has open on this instance (each one polls the table, so they are capped). */
  openFor(userId: string): number {
    return this.#perUser.get(userId) ?? 0
  }

  /**
   * Opens a stream that starts after `from`; the caller sends it as the response body. Every
   * `credential.everyMs` the stream asks `credential.stillAllowed()` and ends once the answer is
   * no: a stream outlives the check its request passed, and a revoked token, an ended session or
   * an expired one must stop receiving events as its next request would be refused.
   */
  open(
    from: EventPosition,
    userId: string,
    credential?: { stillAllowed: () => Promise<boolean>; everyMs: number },
  ): PassThrough {
    const out = new PassThrough()
    this.#perUser.set(userId, this.openFor(userId) + 1)
    let position = from
    let reading = false
    let again = false
    /** Ended from either side: nothing more is written. */
    let closed = false

    const pump = async () => {
      if (closed) return
      if (reading) {
        again = true
        return
      }
      reading = true
      try {
        do {
          again = false
          for (;;) {
            const events = await readEventsAfter(this.#database.db, this.#database.engine, position, BATCH)
            this.#readOutage.ok()
            if (closed || out.writableEnded) return
            for (const event of events) {
              // Payloads are JSON.stringify output: one line, so one `data:` field.
              out.write(`id: ${event.id}\nevent: ${event.type}\ndata: ${event.payload}\n\n`)
              position = { id: event.id, xid: event.xid }
            }
            // A replay can be long: let the client drain, and cut off only a client that stops reading.
            if (out.writableLength > MAX_BUFFERED_BYTES && !(await drained(out, DRAIN_TIMEOUT_MS))) {
              endWith(': too far behind; reconnect with Last-Event-ID\n\n')
              return
            }
            if (closed || out.writableEnded) return
            if (events.length < BATCH) break
          }
          if (
            !closed &&
            !again &&
            (await hasUnreadEvents(this.#database.db, this.#database.engine, position))
          )
            retrySoon()
        } while (again && !closed)
      } catch (err) {
        if (!closed) this.#readOutage.failed(err)
      } finally {
        reading = false
      }
    }

    // Committed events held back by an older running transaction become readable when it ends,
    // which sends no notification: look again shortly (doubling up to 1 s) while any are unread.
    let retryTimer: NodeJS.Timeout | undefined
    let retryDelay = 25
    const retrySoon = () => {
      if (retryTimer) return
      retryTimer = setTimeout(() => {
        retryTimer = undefined
        void pump()
      }, retryDelay)
      retryDelay = Math.min(retryDelay * 2, 1000, this.#settings.pollIntervalMs)
    }
    const unsubscribe = this.#signal.onWake(() => {
      retryDelay = 25
      void pump()
    })
    const poll = setInterval(() => void pump(), this.#settings.pollIntervalMs)
    const heartbeat = setInterval(() => out.write(': heartbeat\n\n'), this.#settings.heartbeatMs)
    // One check at a time: while the database is slow to answer, checks do not pile up.
    let checking = false
    const recheck =
      credential &&
      setInterval(() => {
        if (checking) return
        checking = true
        credential.stillAllowed().then(
          (allowed) => {
            checking = false
            this.#recheckOutage.ok()
            if (!allowed)
              endWith(': credential no longer valid; reconnect with a valid token and Last-Event-ID\n\n')
          },
          // Not checkable now (the database is down): the stream goes on, and the next check decides.
          (err: unknown) => {
            checking = false
            this.#recheckOutage.failed(err)
          },
        )
      }, credential.everyMs)
    const stopTimers = () => {
      unsubscribe()
      clearInterval(poll)
      clearInterval(heartbeat)
      if (recheck) clearInterval(recheck)
      if (retryTimer) clearTimeout(retryTimer)
    }
    // Ends the stream from this side (shutdown, a client too far behind, a credential no longer
    // valid) once: the timers stop at once, so nothing is written after the end while its last
    // bytes drain to a slow client (a write after end would destroy the stream with an error).
    const endWith = (comment: string) => {
      if (closed) return
      closed = true
      stopTimers()
      out.end(comment)
    }
    const cleanup = () => {
      if (!closed) {
        closed = true
        stopTimers()
      }
      if (!this.#open.delete(out)) return
      const left = this.openFor(userId) - 1
      if (left > 0) this.#perUser.set(userId, left)
      else this.#perUser.delete(userId)
    }
    this.#open.set(out, endWith)
    out.on('close', cleanup)
    out.on('finish', cleanup)
    out.on('error', cleanup)
    // `retry:` tells EventSource how long to wait before reconnecting; the comment flushes headers.
    out.write('retry: 2000\n: stream open\n\n')
    void pump()
    return out
  }

  /** Ends every open stream (shutdown): clients reconnect elsewhere with Last-Event-ID. */
  closeAll(): void {
    for (const endWith of this.#open.values()) endWith(': server shutting down\n\n')
  }
}

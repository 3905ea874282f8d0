// Read-only queries on SQLite, off the main thread.
//
// Why: node:sqlite is synchronous, so a query runs to completion on the event
// loop and every other request waits behind it. For the point reads and keyset
// pages that is tens of microseconds; a full-text search relevance-ranks every
// match and takes 8–35 ms at 100k tasks, and under load the searches queued
// back to back held the main thread for seconds at a time (bench/PERFORMANCE.md).
// Those queries run here instead, on a connection of their own in a worker
// thread, while the main thread goes on serving everything else.
//
// What does not change:
// - Nothing acknowledged is missed: a write's 2xx is sent after its COMMIT, and
//   each read here starts a new read transaction, which in WAL mode sees every
//   transaction committed before it began.
// - The queries of one read (a count and its page) run in one read
//   transaction, so they agree with each other.
// - The connection is read-only (SQLITE_OPEN_READONLY): nothing sent here can
//   write.
// - Errors come back as errors: the engine's (with its code and errcode, as
//   db/errors.ts reads them), or DatabaseUnavailableError when the thread
//   itself is gone; the reads it held fail, reads in the next second are
//   refused (a thread that cannot start is not restarted for every search), and
//   the read after that starts a new one.
// - The wait is bounded: past MAX_PENDING_READS waiting searches, a search is
//   refused as busy (503 with Retry-After) instead of queueing without end.
//
// One thread, started on the first read (a process that never searches pays
// nothing for it); reads queue in arrival order. No library runs node:sqlite
// statements on a worker behind Kysely's compiled queries, hence this module.
import { Worker } from 'node:worker_threads'
import type { CompiledQuery } from 'kysely'
import { DatabaseBusyError, DatabaseUnavailableError } from './errors.ts'
import { toSqlValue } from './sqlite.ts'
import type { ReadReply, ReadRequest } from './sqlite-reader-worker.js'

interface Pending {
  resolve(rows: unknown[][]): void
  reject(error: unknown): void
}

class SqliteReadError extends Error {
  readonly code: unknown
  readonly errcode: unknown
  readonly errstr: unknown
  constructor(error: Extract<ReadReply, { error: unknown }>['error']) {
    super(error.message)
    this.name = 'SqliteReadError'
    this.code = error.code
    this.errcode = error.errcode
    this.errstr = error.errstr
  }
}

/** Reads that may wait at once; more are refused as busy (503, Retry-After) rather than queued without bound. */
export const MAX_PENDING_READS = 64
/** After the thread failed, reads are refused this long before another is started. */
export const RESTART_DELAY_MS = 1000

export class SqliteReader {
  readonly #file: string
  readonly #maxPending: number
  readonly #restartDelayMs: number
  #worker: Worker | undefined
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #closed = false
  /** When the last thread failed, and why: reads are refused until RESTART_DELAY_MS after it. */
  #failed: { at: number; cause: unknown } | undefined

  constructor(file: string, options: { maxPending?: number; restartDelayMs?: number } = {}) {
    this.#file = file
    this.#maxPending = options.maxPending ?? MAX_PENDING_READS
    this.#restartDelayMs = options.restartDelayMs ?? RESTART_DELAY_MS
  }

  /** Reads in flight or queued, for tests and /metrics. */
  get pending(): number {
    return this.#pending.size
  }

  /** Runs `queries` in one read transaction on the reader's connection; resolves with each one's rows. */
  read(queries: readonly CompiledQuery[]): Promise<unknown[][]> {
    if (this.#closed) return Promise.reject(new DatabaseUnavailableError(new Error('the reader is closed')))
    if (this.#pending.size >= this.#maxPending)
      return Promise.reject(new DatabaseBusyError(`${this.#pending.size} searches are already waiting`))
    const failed = this.#failed
    if (!this.#worker && failed && performance.now() - failed.at < this.#restartDelayMs)
      return Promise.reject(new DatabaseUnavailableError(failed.cause))
    const id = this.#nextId++
    let request: ReadRequest
    let worker: Worker
    try {
      request = {
        id,
        queries: queries.map((q) => ({ sql: q.sql, parameters: q.parameters.map(toSqlValue) })),
      }
      worker = this.#worker ?? this.#start()
    } catch (error) {
      return Promise.reject(new DatabaseUnavailableError(error))
    }
    return new Promise((resolve, reject) => {
      try {
        worker.postMessage(request)
      } catch (error) {
        reject(new DatabaseUnavailableError(error))
        return
      }
      // Referenced only while it owes replies, so an idle reader never keeps the process alive.
      if (this.#pending.size === 0) worker.ref()
      this.#pending.set(id, { resolve, reject })
    })
  }

  async close(): Promise<void> {
    this.#closed = true
    const worker = this.#worker
    this.#worker = undefined
    if (worker) await worker.terminate()
    this.#failAll(new DatabaseUnavailableError(new Error('the reader is closed')))
  }

  #start(): Worker {
    const worker = new Worker(new URL('./sqlite-reader-worker.js', import.meta.url), {
      workerData: { file: this.#file },
      // A bounded heap: the thread holds a few statements and one reply's rows at a time.
      resourceLimits: { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 8 },
    })
    worker.unref()
    worker.on('message', (reply: ReadReply) => {
      const pending = this.#pending.get(reply.id)
      if (!pending) return
      this.#pending.delete(reply.id)
      if (this.#pending.size === 0) worker.unref()
      if ('error' in reply) pending.reject(new SqliteReadError(reply.error))
      else pending.resolve(reply.rows)
    })
    const gone = (cause: unknown) => {
      if (this.#worker !== worker) return
      this.#worker = undefined
      this.#failed = { at: performance.now(), cause }
      this.#failAll(new DatabaseUnavailableError(cause))
    }
    worker.on('error', gone)
    worker.on('exit', (code) => gone(new Error(`the reader thread exited with code ${code}`)))
    this.#worker = worker
    return worker
  }

  #failAll(error: Error): void {
    const pending = [...this.#pending.values()]
    this.#pending.clear()
    for (const p of pending) p.reject(error)
  }
}

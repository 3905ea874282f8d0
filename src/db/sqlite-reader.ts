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
//   db/errors.ts reads them), or DatabaseUnavailableError when a thread itself
//   is gone; the reads it held fail, for the next second reads go to the other
//   threads or, with none left, are refused (a thread that cannot start is not
//   restarted for every search), and the read after that may start it again.
// - The wait is bounded: past MAX_PENDING_READS waiting searches over all
//   threads, a search is refused as busy (503 with Retry-After) instead of
//   queueing without end.
//
// Up to SEARCH_THREADS threads (default 2). The first starts with the first
// search, so a process that never searches pays nothing; a search goes to the
// thread with the fewest reads waiting (on a tie, one already running), so the
// next thread starts only when a search arrives while every running one has a
// read, and searches no longer all queue behind one long one. On the bench's
// 2-core machine (load generator included) a second thread took the
// searches-only load from 102–193 to 225–320 searches/s and the 80/20 mix's
// p99 (its searches) from 146–387 to 48–95 ms; the mix's median rose from 2–13
// to 12–15 ms and peak RSS by 4–38 MB (bench/PERFORMANCE.md). Reads on one
// thread queue in arrival order.
//
// No library runs node:sqlite statements on a worker behind Kysely's compiled
// queries, hence this module.
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

/** Reads that may wait at once (over all threads); more are refused as busy (503, Retry-After) rather than queued without bound. */
export const MAX_PENDING_READS = 64
/** After a thread failed, it refuses reads this long before another is started in its place (a pool sends them to its other threads meanwhile). */
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

  /** Whether a read now would be refused without being tried: closed, or its thread failed within the restart delay. */
  get refusing(): boolean {
    const failed = this.#failed
    return this.#closed || (!this.#worker && !!failed && performance.now() - failed.at < this.#restartDelayMs)
  }

  /** Whether its thread is running. */
  get started(): boolean {
    return this.#worker !== undefined
  }

  /** Runs `queries` in one read transaction on the reader's connection; resolves with each one's rows. */
  read(queries: readonly CompiledQuery[]): Promise<unknown[][]> {
    if (this.#closed) return Promise.reject(new DatabaseUnavailableError(new Error('the reader is closed')))
    if (this.#pending.size >= this.#maxPending)
      return Promise.reject(new DatabaseBusyError(`${this.#pending.size} searches are already waiting`))
    const failed = this.#failed
    if (failed && this.refusing) return Promise.reject(new DatabaseUnavailableError(failed.cause))
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

/**
 * Several SqliteReaders behind one `read`. A read goes to the reader with the fewest reads waiting;
 * on a tie, to one whose thread is running, then to the first. So another thread starts only when a
 * search arrives while every running one has a read, also once a failed one may start again.
 * Readers whose thread failed a moment ago are passed over while another can answer. The bound on
 * waiting reads is over all threads. Reads are counted, not timed: a read may still queue behind a
 * long search when every thread has one.
 */
export class SqliteReaderPool {
  readonly #readers: SqliteReader[]
  readonly #maxPending: number
  #closed = false

  constructor(file: string, options: { threads: number; maxPending?: number; restartDelayMs?: number }) {
    if (!Number.isInteger(options.threads) || options.threads < 1)
      throw new RangeError(`threads must be a positive integer, not ${options.threads}`)
    this.#maxPending = options.maxPending ?? MAX_PENDING_READS
    this.#readers = Array.from(
      { length: options.threads },
      () => new SqliteReader(file, { maxPending: this.#maxPending, restartDelayMs: options.restartDelayMs }),
    )
  }

  /** Reads in flight or queued on every thread, for tests and /metrics. */
  get pending(): number {
    let n = 0
    for (const reader of this.#readers) n += reader.pending
    return n
  }

  /** Threads running now, for tests. */
  get started(): number {
    return this.#readers.filter((r) => r.started).length
  }

  /** As SqliteReader.read, on the least busy thread. */
  read(queries: readonly CompiledQuery[]): Promise<unknown[][]> {
    if (this.#closed) return Promise.reject(new DatabaseUnavailableError(new Error('the reader is closed')))
    const pending = this.pending
    if (pending >= this.#maxPending)
      return Promise.reject(new DatabaseBusyError(`${pending} searches are already waiting`))
    let best: SqliteReader | undefined
    for (const reader of this.#readers) {
      if (reader.refusing) continue
      if (
        !best ||
        reader.pending < best.pending ||
        (reader.pending === best.pending && reader.started && !best.started)
      )
        best = reader
    }
    // Every thread failed a moment ago: the first one says why.
    return (best ?? (this.#readers[0] as SqliteReader)).read(queries)
  }

  /**
   * Stops every thread and fails the reads still waiting. A thread inside a SQLite statement stops
   * when the statement returns, so this can take as long as the longest search running.
   */
  async close(): Promise<void> {
    this.#closed = true
    await Promise.all(this.#readers.map((r) => r.close()))
  }
}

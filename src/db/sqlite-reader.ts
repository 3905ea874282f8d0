// Read-only queries on SQLite, off the main thread.
//
// Why: node:sqlite is synchronous, so a query runs to completion on the event
// loop and every other request waits behind it. For the point reads and keyset
// pages that is tens of microseconds; a full-text search relevance-ranks every
// match and takes 8–35 ms at 100k tasks, and under load the searches queued
// back to back held the main thread for seconds at a time (README, Benchmark).
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
//   itself is gone; the reads it held fail, and the next read starts a new one.
//
// One thread, started on the first read (a process that never searches pays
// nothing for it); reads queue in arrival order. No library runs node:sqlite
// statements on a worker behind Kysely's compiled queries, hence this module.
import { Worker } from 'node:worker_threads'
import type { CompiledQuery } from 'kysely'
import { DatabaseUnavailableError } from './errors.ts'
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

export class SqliteReader {
  readonly #file: string
  #worker: Worker | undefined
  readonly #pending = new Map<number, Pending>()
  #nextId = 1
  #closed = false

  constructor(file: string) {
    this.#file = file
  }

  /** Reads in flight or queued, for tests and /metrics. */
  get pending(): number {
    return this.#pending.size
  }

  /** Runs `queries` in one read transaction on the reader's connection; resolves with each one's rows. */
  read(queries: readonly CompiledQuery[]): Promise<unknown[][]> {
    if (this.#closed) return Promise.reject(new DatabaseUnavailableError(new Error('the reader is closed')))
    const worker = this.#worker ?? this.#start()
    const id = this.#nextId++
    const request: ReadRequest = {
      id,
      queries: queries.map((q) => ({ sql: q.sql, parameters: q.parameters.map(toSqlValue) })),
    }
    return new Promise((resolve, reject) => {
      // Referenced only while it owes replies, so an idle reader never keeps the process alive.
      if (this.#pending.size === 0) worker.ref()
      this.#pending.set(id, { resolve, reject })
      worker.postMessage(request)
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

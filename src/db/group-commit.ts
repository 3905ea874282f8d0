// Group commit for SQLite: write transactions that queue up while one is
// running are committed together, each in its own savepoint.
//
// Why: SQLite has one writer and a 2xx must be on disk (synchronous=FULL), so
// every write transaction paid its own COMMIT: the fsync plus writing every page
// it dirtied to the WAL (a create dirties ~15: the row, six indexes, the search
// index, counters, tags, the outbox), about 360 µs of the ~520 µs of SQL in a
// create. Transactions waiting for the write lock now share one COMMIT, and the
// pages they all touch (index leaves, counter rows, the search index's
// structure record) are written once per batch.
//
// What does not change:
// - Each unit is atomic on its own: a unit that throws is rolled back to its
//   savepoint and rejects with its error; the others in the batch go on.
// - Nothing is acknowledged before it is durable: every unit's promise settles
//   only after the batch's COMMIT has returned (synchronous=FULL), and if the
//   COMMIT fails every unit in the batch rejects with that error.
// - Units run one after another on the one connection, in arrival order, so
//   each sees the ones before it, exactly as if they had committed in turn; the
//   outbox's event ids stay in commit order.
// - Other queries wait for the connection while a batch is open (Kysely's
//   SQLite driver holds it for the whole transaction), so nothing uncommitted is
//   ever read; they get it between batches, which are bounded in size.
// There is no added wait: a batch starts on setImmediate, right after the I/O
// callbacks of the current turn (the requests that arrived together).
//
// No library does this for Kysely or node:sqlite; it sits behind the same
// runInTransaction every service already uses.
import type { ControlledTransaction, Kysely, Transaction } from 'kysely'
import type { Schema } from './schema.ts'

type Work = (trx: Transaction<Schema>) => Promise<unknown>

interface Unit {
  work: Work
  resolve(value: unknown): void
  reject(error: unknown): void
}

/** At most this many units share a COMMIT, so readers waiting for the connection get it often. */
export const MAX_BATCH = 32

export class GroupCommit {
  readonly #db: Kysely<Schema>
  readonly #maxBatch: number
  readonly #queue: Unit[] = []
  #draining = false
  /** Batches committed (or attempted) and units run, for tests and /metrics. */
  readonly stats = { batches: 0, units: 0 }

  constructor(db: Kysely<Schema>, maxBatch = MAX_BATCH) {
    this.#db = db
    this.#maxBatch = maxBatch
  }

  run<T>(work: (trx: Transaction<Schema>) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.#queue.push({ work, resolve: resolve as (value: unknown) => void, reject })
      if (!this.#draining) {
        // node:sqlite is synchronous, so a whole transaction runs in one turn of the event loop
        // and nothing else could queue behind it. Starting on setImmediate (right after the
        // current I/O callbacks) lets every request that arrived in this turn reach its
        // transaction first; they then share a COMMIT. No timer, so no added wait.
        this.#draining = true
        setImmediate(() => void this.#drain())
      }
    })
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) await this.#runBatch(this.#queue.splice(0, this.#maxBatch))
    } finally {
      this.#draining = false
    }
  }

  async #runBatch(batch: Unit[]): Promise<void> {
    this.stats.batches++
    this.stats.units += batch.length
    let trx: ControlledTransaction<Schema>
    try {
      trx = await this.#db.startTransaction().execute()
    } catch (error) {
      for (const unit of batch) unit.reject(error)
      return
    }
    const done: { unit: Unit; value: unknown }[] = []
    if (batch.length === 1) {
      // Alone: a plain transaction, no savepoint needed.
      const unit = batch[0] as Unit
      try {
        done.push({ unit, value: await unit.work(trx) })
      } catch (error) {
        await rollbackQuietly(trx)
        unit.reject(error)
        return
      }
    } else {
      for (let i = 0; i < batch.length; i++) {
        const unit = batch[i] as Unit
        const savepoint = await trx.savepoint('unit').execute()
        try {
          const value = await unit.work(savepoint)
          await savepoint.releaseSavepoint('unit').execute()
          done.push({ unit, value })
        } catch (error) {
          try {
            await savepoint.rollbackToSavepoint('unit').execute()
            await savepoint.releaseSavepoint('unit').execute()
          } catch (broken) {
            // The transaction itself is gone (an I/O error rolled it back): nothing in it can commit.
            await rollbackQuietly(trx)
            unit.reject(error)
            for (const { unit: other } of done) other.reject(broken)
            for (const other of batch.slice(i + 1)) other.reject(broken)
            return
          }
          unit.reject(error)
        }
      }
    }
    try {
      await trx.commit().execute()
    } catch (error) {
      await rollbackQuietly(trx)
      for (const { unit } of done) unit.reject(error)
      return
    }
    for (const { unit, value } of done) unit.resolve(value)
  }
}

async function rollbackQuietly(trx: ControlledTransaction<Schema>): Promise<void> {
  if (trx.isCommitted || trx.isRolledBack) return
  try {
    await trx.rollback().execute()
  } catch {
    // Already rolled back by SQLite; the connection is usable again either way.
  }
}

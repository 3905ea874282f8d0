// The storage seam: opens the configured engine and hands out one Kysely
// instance typed by Schema. Services and repositories only see `Database`.
import { CompiledQuery, Kysely, type RawBuilder, sql, type Transaction } from 'kysely'
import type { Config } from '../config.ts'
import { GroupCommit } from './group-commit.ts'
import { openPostgres } from './postgres.ts'
import { ResultCache } from './result-cache.ts'
import type { Schema } from './schema.ts'
import { openSqlite } from './sqlite.ts'
import { SqliteReaderPool } from './sqlite-reader.ts'

export type Engine = 'sqlite' | 'postgres'

/**
 * A query's LIMIT, always a literal. A bound LIMIT costs a plan per run on either engine:
 * - SQLite (3.47 and later) reads a bound LIMIT's value while planning, and so marks the
 *   statement to be prepared again each time that parameter is bound: every run of a cached
 *   statement was parsed and planned anew. On the bench data a status-filtered page of tasks took
 *   89–106 µs with `LIMIT ?` and 62–74 µs with the literal (node:sqlite, 4,000 runs each,
 *   alternated three times), and the service's lists cost 21% less CPU (bench rig, four
 *   alternated rounds).
 * - PostgreSQL plans a named statement with its values on each of its first five runs, then keeps
 *   one plan for any values if that plan's estimated cost is no worse. With a bound LIMIT that
 *   estimate assumes a tenth of the rows is wanted, so for a page it is always worse, and the
 *   statement was planned afresh on every run: about 40% of PostgreSQL's CPU for a
 *   listing (`pg_prepared_statements` counts the custom plans; see offsetSql for the rest).
 * A literal costs one cached statement per limit in use.
 */
export function limitSql(limit: number): RawBuilder<number> {
  if (!Number.isSafeInteger(limit) || limit < 0) throw new Error(`not a row limit: ${limit}`)
  return sql.lit(limit)
}

/**
 * A query's OFFSET: a literal 0, any other offset bound. PostgreSQL costs an unknown OFFSET as it
 * does an unknown LIMIT (see limitSql), so a first page or a keyset page bound at 0 was planned on
 * every run; offsets past 0 (offset paging) stay bound, a statement for each would be too many.
 * SQLite does not plan on an OFFSET either way.
 */
export function offsetSql(offset: number): RawBuilder<number> {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new Error(`not a row offset: ${offset}`)
  return offset === 0 ? sql.lit(0) : sql<number>`${offset}`
}

/**
 * Database.readNow: runs a read at once where the engine can and answers its rows, each as an
 * array of its values in the select list's order; or answers undefined.
 */
export type ReadNow = (query: CompiledQuery) => unknown[][] | undefined

/** Database.readValues: runs a read on a connection of its own and answers its rows as ReadNow does. */
export type ReadValues = (query: CompiledQuery) => Promise<unknown[][]>

/**
 * Rows read as objects (through Kysely, or off the main thread) in readNow's shape: each row's
 * values in the select list's order, which is the order of an object's keys as long as no
 * column is named like an array index (none of ours is).
 */
export function rowValues(rows: readonly unknown[]): unknown[][] {
  return rows.map((row) => Object.values(row as Record<string, unknown>))
}

/**
 * Full-text search results kept until the data changes (result-cache.ts), with the version that
 * says whether it has: read it before the search, look the search up under it, and store what the
 * database answered under that same version.
 */
export interface SearchCache {
  /** Each search's result in the form its caller keeps (tasks/list-repository.ts), by what it asked. */
  results: ResultCache<unknown>
  /** The data's version now; undefined when it cannot be told now, and then nothing is looked up or stored. */
  version(): string | undefined | Promise<string | undefined>
}

/** Anything a repository can run a query on: the database or an open transaction. */
export type Executor = Kysely<Schema> | Transaction<Schema>

export interface Database {
  readonly db: Kysely<Schema>
  readonly engine: Engine
  /** A cheap round trip used by /ready. */
  ping(): Promise<void>
  /** Connection pool figures for /metrics (PostgreSQL only). */
  poolStats(): { total: number; idle: number; waiting: number } | undefined
  close(): Promise<void>
  /**
   * How runInTransaction runs a unit of work, when the engine does it its own way (SQLite:
   * group commit, see group-commit.ts). Absent: one Kysely transaction per unit.
   */
  transact?<T>(work: (trx: Transaction<Schema>) => Promise<T>): Promise<T>
  /**
   * Runs read-only queries that cost milliseconds (full-text search) off the main thread, on
   * a connection of their own, in one read transaction; resolves with each query's rows
   * (SQLite, see sqlite-reader.ts). Absent: such queries run on `db` like any other.
   */
  readOffThread?(queries: readonly CompiledQuery[]): Promise<unknown[][]>
  /**
   * SQLite: runs one read-only query at once, synchronously, on the connection Kysely also uses,
   * and returns its rows as arrays of values (ReadNow); returns undefined while a transaction is
   * open on that connection, and the caller then runs the query through `db` (which waits for
   * the transaction to end).
   *
   * Why: a point read or a keyset page is microseconds of SQLite, but going through Kysely's
   * driver (its connection lock, then the query, each a promise) allocated ~4 KB per query and
   * hopped through several promises; GET /v1/tasks/{id} allocated 41 KB in all, 37 KB without
   * (V8's sampling heap profiler, 10k requests). Nothing uncommitted is read: a group-commit
   * batch holds a transaction open across its units, and while it does every read queues as
   * before. Absent (PostgreSQL): reads go through `db`.
   */
  readNow?: ReadNow
  /**
   * PostgreSQL: runs one read-only query on a pooled connection (outside any transaction) and
   * answers its rows as arrays of values, as readNow does. Named like every read (see
   * src/db/postgres.ts), with the same tagging of transport failures.
   *
   * Why: Kysely's executor and pg's row objects cost the service ~20% more CPU per listing
   * query than pg's array rows on the same pool (16 concurrent, 3,000 listings, warm rounds).
   * Absent (SQLite, which has readNow): reads go through `db`.
   */
  readValues?: ReadValues
  /** Reads queued or running off the main thread, for /metrics (present with readOffThread). */
  offThreadPending?(): number
  /** Full-text searches answered without the database while it has not changed; absent when SEARCH_CACHE_MB is 0. */
  searchCache?: SearchCache
}

/**
 * SQLite's version for the search cache, read on the writer connection (readNow, so undefined
 * while a transaction is open there): how many rows that connection has ever changed (triggers
 * included, rolled-back changes too, which only costs a miss), and `PRAGMA data_version`, which
 * changes when another connection (the CLI, another process) has committed. Outside a
 * transaction nothing this connection changed is uncommitted, and every later commit changes one
 * of the two before it is acknowledged. It holds only while nothing keeps a statement open on the
 * writer connection between requests (every read there runs to completion: `all`, `run`, never a
 * stream), since data_version moves only when a read begins.
 */
const SQLITE_VERSION = CompiledQuery.raw(
  'SELECT total_changes(), (SELECT data_version FROM pragma_data_version)',
)
/**
 * PostgreSQL's: the current snapshot (xmin, xmax and the transactions in progress), cluster-wide.
 * Any transaction's commit changes it for good: xmax only grows, and a transaction in progress
 * leaves the list when it ends and never returns to it. On a primary only: a hot standby prints
 * its snapshots without the transactions in progress, so DATABASE_URL must never be a replica
 * while this cache is on.
 */
const POSTGRES_VERSION = CompiledQuery.raw('SELECT pg_current_snapshot()::text')

export function openDatabase(config: Config): Database {
  if (config.DATABASE_URL) {
    const { dialect, pool, readValues } = openPostgres({
      url: config.DATABASE_URL,
      poolMax: config.DATABASE_POOL_MAX,
      connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
      statementTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS,
    })
    const db = new Kysely<Schema>({ dialect })
    return {
      db,
      engine: 'postgres',
      readValues,
      searchCache: searchCacheOf(config, async () => {
        const text = (await readValues(POSTGRES_VERSION))[0]?.[0]
        return typeof text === 'string' ? text : undefined
      }),
      async ping() {
        // /ready answers within about the connect timeout even when the server stops answering
        // on a connection already open (a partition): a read waits for no more than that.
        // (pg honours a query's own query_timeout; its types do not list it.)
        const ping = { text: 'select 1', query_timeout: config.DATABASE_CONNECT_TIMEOUT_MS }
        await pool.query(ping as { text: string })
      },
      poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
      async close() {
        await db.destroy()
      },
    }
  }
  const { dialect, raw, connection, file } = openSqlite(config.DATA_DIR)
  const db = new Kysely<Schema>({ dialect })
  const writes = new GroupCommit(db)
  const reader = new SqliteReaderPool(file, { threads: config.SEARCH_THREADS })
  return {
    db,
    engine: 'sqlite',
    transact: (work) => writes.run(work),
    readOffThread: (queries) => reader.read(queries),
    readNow: (query) => connection.readNow(query.sql, query.parameters),
    offThreadPending: () => reader.pending,
    searchCache: searchCacheOf(config, () => {
      const row = connection.readNow(SQLITE_VERSION.sql, SQLITE_VERSION.parameters)?.[0]
      return row ? `${row[0]}:${row[1]}` : undefined
    }),
    async ping() {
      raw.prepare('select 1').get()
    },
    poolStats: () => undefined,
    async close() {
      await reader.close()
      await db.destroy()
    },
  }
}

function searchCacheOf(config: Config, version: SearchCache['version']): SearchCache | undefined {
  if (config.SEARCH_CACHE_MB === 0) return undefined
  return { results: new ResultCache(config.SEARCH_CACHE_MB * 1_048_576), version }
}

/**
 * Runs `work` in one transaction: everything it writes commits together or not
 * at all, and the promise settles only once that is durable. Services use this for
 * every multi-statement change (and the outbox row). On SQLite units that queue
 * up share a COMMIT (group-commit.ts) without giving up any of that.
 */
export function runInTransaction<T>(
  database: Database,
  work: (trx: Transaction<Schema>) => Promise<T>,
): Promise<T> {
  return database.transact ? database.transact(work) : database.db.transaction().execute(work)
}

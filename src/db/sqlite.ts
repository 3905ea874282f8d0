// Embedded engine: SQLite through node:sqlite, set up on purpose (WAL, busy
// timeout, foreign keys, full sync so a 2xx is durable). Kysely ships a dialect
// for better-sqlite3's API only; node:sqlite differs in small ways (spread
// parameters, no `reader` flag), so this adapter bridges the two.
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { DatabaseSync, type StatementSync } from 'node:sqlite'
import {
  CompiledQuery,
  type DatabaseConnection,
  type Driver,
  type SqliteDatabase,
  SqliteDialect,
  SqliteDriver,
  type SqliteStatement,
} from 'kysely'

type SqlValue = null | number | bigint | string | Uint8Array

/** A parameter as node:sqlite binds it (booleans as 0/1, dates as ISO text, objects as JSON). */
export function toSqlValue(value: unknown): SqlValue {
  if (value === undefined || value === null) return null
  if (typeof value === 'boolean') return value ? 1 : 0
  if (value instanceof Date) return value.toISOString()
  if (typeof value === 'number' || typeof value === 'bigint' || typeof value === 'string') return value
  if (value instanceof Uint8Array) return value
  return JSON.stringify(value)
}

const STATEMENT_CACHE_SIZE = 500

/** Adds to a statement cache, dropping its oldest entry once it holds STATEMENT_CACHE_SIZE. */
function remember<V>(cache: Map<string, V>, sql: string, value: V): V {
  if (cache.size >= STATEMENT_CACHE_SIZE) {
    const oldest = cache.keys().next().value
    if (oldest !== undefined) cache.delete(oldest)
  }
  cache.set(sql, value)
  return value
}

/** node:sqlite's DatabaseSync shaped as Kysely's SqliteDatabase, with a prepared-statement cache. */
export class NodeSqliteDatabase implements SqliteDatabase {
  readonly #db: DatabaseSync
  readonly #statements = new Map<string, { stmt: StatementSync; reader: boolean }>()
  /**
   * readNow's statements, which answer each row as an array of its values: an object per row
   * made node:sqlite name its columns again on every run (a property key each) and made the
   * row's fields megamorphic loads for whoever read them. A page of 20 tasks read and turned
   * into tasks took 70 µs as objects and 39 µs as arrays (node:sqlite on the bench data, four
   * alternated runs of 5,000); one task by id 16 µs and 12 µs.
   */
  readonly #valueStatements = new Map<string, StatementSync>()

  constructor(db: DatabaseSync) {
    this.#db = db
  }

  /**
   * Runs a read-only statement at once, when no transaction is open on this connection, and
   * answers its rows as arrays of values in the select list's order; returns undefined when one
   * is (a group-commit batch, see group-commit.ts), and the caller queues through Kysely as any
   * other query. See Database.readNow for why and what it keeps.
   */
  readNow(sql: string, parameters: readonly unknown[]): unknown[][] | undefined {
    if (this.#db.isTransaction) return undefined
    let stmt = this.#valueStatements.get(sql)
    if (!stmt) {
      stmt = remember(this.#valueStatements, sql, this.#db.prepare(sql))
      stmt.setReturnArrays(true)
    }
    return stmt.all(...parameters.map(toSqlValue)) as unknown as unknown[][]
  }

  close(): void {
    this.#statements.clear()
    this.#valueStatements.clear()
    if (this.#db.isOpen) this.#db.close()
  }

  prepare(sql: string): SqliteStatement {
    let entry = this.#statements.get(sql)
    if (!entry) {
      const stmt = this.#db.prepare(sql)
      entry = remember(this.#statements, sql, { stmt, reader: stmt.columns().length > 0 })
    }
    const { stmt, reader } = entry
    return {
      reader,
      all: (params) => stmt.all(...params.map(toSqlValue)),
      run: (params) => {
        const r = stmt.run(...params.map(toSqlValue))
        return { changes: r.changes, lastInsertRowid: r.lastInsertRowid }
      },
      iterate: (params) => stmt.iterate(...params.map(toSqlValue)) as IterableIterator<unknown>,
    }
  }
}

/** Write transactions take the write lock up front (BEGIN IMMEDIATE) so they wait on busy_timeout instead of failing mid-way. */
class ImmediateSqliteDriver extends SqliteDriver {
  override async beginTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('begin immediate'))
  }
}

class ImmediateSqliteDialect extends SqliteDialect {
  readonly #database: SqliteDatabase
  constructor(database: SqliteDatabase) {
    super({ database })
    this.#database = database
  }
  override createDriver(): Driver {
    return new ImmediateSqliteDriver({ database: this.#database })
  }
}

export interface OpenedSqlite {
  dialect: SqliteDialect
  raw: DatabaseSync
  /** The same connection as Kysely's, for reads that need not queue (Database.readNow). */
  connection: NodeSqliteDatabase
  /** The database file's path, for connections of its own (sqlite-reader.ts). */
  file: string
}

export function openSqlite(dataDir: string, fileName = 'task-tracker.db'): OpenedSqlite {
  mkdirSync(dataDir, { recursive: true })
  const file = join(dataDir, fileName)
  const raw = new DatabaseSync(file)
  // A 16 MiB page cache: the hot pages (indexes, counter tables, recent rows) fit, the rest is
  // one read from the OS page cache away. 64 MiB held that much more RSS for no measured gain.
  raw.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = FULL;
    PRAGMA busy_timeout = 5000;
    PRAGMA foreign_keys = ON;
    PRAGMA temp_store = MEMORY;
    PRAGMA cache_size = -16384;
  `)
  const connection = new NodeSqliteDatabase(raw)
  return { dialect: new ImmediateSqliteDialect(connection), raw, connection, file }
}

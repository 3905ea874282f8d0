// Server engine: PostgreSQL through a `pg` pool with bounded waits, so a
// database outage turns into fast 503s instead of hung requests.
import { createRequire } from 'node:module'
import { type CompiledQuery, PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely'
import type pg from 'pg'
import { DatabaseUnavailableError, isDatabaseUnavailable } from './errors.ts'

const require = createRequire(import.meta.url)
let pgModule: typeof pg | undefined
/**
 * The `pg` driver, loaded on first use: a service on SQLite never opens a PostgreSQL connection,
 * and loading pg cost it 3 MB of heap and its code for nothing. Synchronous (pg is CommonJS), so
 * the functions that open connections stay synchronous too.
 */
export function loadPg(): typeof pg {
  pgModule ??= require('pg') as typeof pg
  return pgModule
}

export interface PostgresSettings {
  url: string
  poolMax: number
  connectTimeoutMs: number
  statementTimeoutMs: number
}

/**
 * pg reports "could not get a connection" (pool checkout timeout, connection timeout) and
 * "the connection broke mid-query" (terminated, read timeout) as plain Errors without a
 * code. Errors from the server are `pg.DatabaseError`s with a SQLSTATE; anything else that
 * comes out of connect() or query() is a transport failure. Tagging them here, at the only
 * place that knows where they came from, lets the error handler classify by code.
 */
function tagTransportFailure(error: unknown): unknown {
  if (error instanceof loadPg().DatabaseError) return error
  if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') return error
  return new DatabaseUnavailableError(error)
}

/**
 * Named (server-side prepared) statements: PostgreSQL then parses and plans a statement once
 * per connection instead of on every request — the bare floor in bench/ does the same. Named
 * are reads (SELECTs, and WITH statements with no INSERT, UPDATE, DELETE or MERGE in them: the
 * relevance-ordered search, whose planning took ~1.6 ms of each ~45 ms search) and the writes
 * that start with PREPARED_WRITE (the task writes with their events: parsing and planning one
 * cost about as much as running it). Other writes are not named: most run rarely, and DDL
 * (migrations) must not fill the cache. A plan over a table another instance alters is
 * re-planned by the server, and explicit column lists keep result types stable; one that a
 * migration made stale (a column's type changed) runs again unnamed, and its connection stops
 * using the name (STALE_PREPARED). Only the first MAX_NAMED distinct texts are named, so
 * ad-hoc queries cannot grow every connection's plan cache.
 */
const MAX_NAMED = 256
const READ_ONLY = /^\s*(?:select\s|with\s(?![\s\S]*\b(?:insert|update|delete|merge)\b))/i
/** The start of a write statement that is run often enough to be worth preparing. */
export const PREPARED_WRITE = '/* prepared write */ '
const nameable = (text: string) => text.startsWith(PREPARED_WRITE) || READ_ONLY.test(text)
/** Texts seen: their statement name, or null for texts never named (writes, or past MAX_NAMED). */
const statementNames = new Map<string, string | null>()
/** How many texts `statementNames` may remember as never named (the set of write texts is small). */
const MAX_UNNAMED_REMEMBERED = 1024
let unnamedRemembered = 0

export function statementName(text: string): string | undefined {
  const known = statementNames.get(text)
  if (known !== undefined) return known ?? undefined
  const named = statementNames.size - unnamedRemembered
  if (named < MAX_NAMED && nameable(text)) {
    const name = `tt_${named}`
    statementNames.set(text, name)
    return name
  }
  if (unnamedRemembered < MAX_UNNAMED_REMEMBERED) {
    statementNames.set(text, null)
    unnamedRemembered++
  }
  return undefined
}

/**
 * What a prepared statement answers once a migration has changed what it was prepared against
 * (another instance may run the migration while this one keeps its connections): "cached plan
 * must not change result type" (0A000), a column whose type changed under a parameter (42804),
 * and a statement the server no longer has (26000).
 */
const STALE_PREPARED = new Set(['0A000', '42804', '26000'])

type Parser = (text: string) => unknown

/** pg's wire connection (pg/lib/connection.js), as much of it as PreparedRead drives. */
interface WireConnection {
  stream: { cork?: () => void; uncork?: () => void }
  /** Statement names this connection has parsed (pg's client fills it on ParseComplete), and their texts. */
  parsedStatements: Record<string, string>
  /** Statement names whose Parse is on the wire (pg's client clears them on ParseComplete or an error). */
  submittedNamedStatements: Record<string, string>
  parse(message: { name: string; text: string }): void
  bind(message: {
    statement: string
    values: readonly unknown[]
    valueMapper: (value: unknown) => unknown
  }): void
  describe(message: { type: 'P'; name: string }): void
  execute(message: { portal: string }): void
  sync(): void
  sendCopyFail(message: string): void
}

let prepareValue: ((value: unknown) => unknown) | undefined
/**
 * pg's own mapping of a parameter to its text (Dates, Buffers, arrays, JSON). Called with the value
 * alone: pg-protocol's serializer passes (value, index), and pg's prepareValue would take the index
 * for its `seen` list.
 */
function pgPrepareValue(value: unknown): unknown {
  prepareValue ??= (require('pg/lib/utils') as { prepareValue: (value: unknown) => unknown }).prepareValue
  return prepareValue(value)
}

/**
 * A named read whose rows come back as arrays of values, run through pg's Submittable hook
 * (`client.query(submittable)`, the seam pg-cursor uses) instead of pg's Query. Written here
 * because pg's Query does per execution what does not change between executions of one
 * prepared statement: it copies its config through property descriptors, asks for the row
 * description again (Describe), and rebuilds the field parsers and a dictionary-mode row
 * template from it. Under a PostgreSQL get those took ~8% of the main thread's busy time in
 * a CPU profile (pg's cloneQueryConfig 3.4%, Result.addFields 4.4%). Here the field parsers
 * are kept per connection and statement: Describe is sent until a row description has come
 * back on the connection, and not after. Without it the server still refuses a prepared
 * statement whose result columns changed (SQLSTATE 0A000, "cached plan must not change result
 * type"), which the caller treats as a stale statement (STALE_PREPARED), so cached parsers
 * never read a changed row.
 * pg's client still does the rest: the queue, the query timeout, errors and ParseComplete.
 * It reads with the service's types (serviceTypes), in text format: a client's setTypeParser or
 * pg.defaults.binary would not reach it, and pg refuses custom Submittables on a client in
 * pipeline mode. The service uses none of the three.
 */
class PreparedRead implements pg.Submittable {
  readonly #rows: unknown[][] = []
  #parsers: Parser[] | undefined
  #failure: Error | undefined
  #settled = false
  /** Called once, by pg's client (wrapped in its query timeout) or by this read. */
  callback: (error: Error | null, rows?: unknown[][]) => void

  /** Read by pg's client: it records the statement as parsed under this name and text. */
  readonly name: string
  readonly text: string
  readonly #values: readonly unknown[]
  readonly #described: (parsers: Parser[]) => void

  constructor(
    name: string,
    text: string,
    values: readonly unknown[],
    parsers: Parser[] | undefined,
    described: (parsers: Parser[]) => void,
    done: (error: Error | null, rows?: unknown[][]) => void,
  ) {
    this.name = name
    this.text = text
    this.#values = values
    this.#described = described
    this.#parsers = parsers
    this.callback = (error, rows) => {
      if (this.#settled) return
      this.#settled = true
      done(error, rows)
    }
  }

  submit(connection: pg.Connection): void {
    const wire = connection as unknown as WireConnection
    // Parse, Bind, Describe, Execute and Sync, those that are needed, in one write (as pg's Query corks them).
    wire.stream.cork?.()
    try {
      if (
        wire.parsedStatements[this.name] === undefined &&
        wire.submittedNamedStatements[this.name] === undefined
      ) {
        wire.parse({ name: this.name, text: this.text })
        wire.submittedNamedStatements[this.name] = this.text
      }
      try {
        wire.bind({ statement: this.name, values: this.#values, valueMapper: pgPrepareValue })
      } catch (error) {
        // A value pg cannot send: the serializer wrote none of the Bind, so the statement does not
        // run (a Parse already written still does); the failure is answered once the server is ready.
        this.#failure = error instanceof Error ? error : new Error(String(error))
        wire.sync()
        return
      }
      if (this.#parsers === undefined) wire.describe({ type: 'P', name: '' })
      wire.execute({ portal: '' })
      wire.sync()
    } finally {
      wire.stream.uncork?.()
    }
  }

  handleRowDescription(message: { fields: { dataTypeID: number; format?: string }[] }): void {
    this.#parsers = message.fields.map((field) =>
      serviceTypes.getTypeParser(field.dataTypeID, field.format === 'binary' ? 'binary' : 'text'),
    ) as Parser[]
    this.#described(this.#parsers)
  }

  handleDataRow(message: { fields: (string | null)[] }): void {
    const parsers = this.#parsers
    const fields = message.fields
    if (this.#failure) return
    if (parsers === undefined || parsers.length !== fields.length) {
      this.#failure = new Error(`prepared statement ${this.name} answered a row its description does not fit`)
      return
    }
    const row = new Array<unknown>(fields.length)
    try {
      for (let i = 0; i < fields.length; i++) {
        const value = fields[i]
        row[i] = value == null ? null : (parsers[i] as Parser)(value)
      }
    } catch (error) {
      this.#failure = error instanceof Error ? error : new Error(String(error))
      return
    }
    this.#rows.push(row)
  }

  handleCommandComplete(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(connection: pg.Connection): void {
    ;(connection as unknown as WireConnection).sendCopyFail('No source stream defined')
  }
  handleCopyData(): void {}

  handleError(error: Error): void {
    this.callback(error)
  }

  handleReadyForQuery(): void {
    if (this.#failure) this.callback(this.#failure)
    else this.callback(null, this.#rows)
  }
}

/** A pooled connection as the service uses it: Kysely's client, plus reads answered as value arrays. */
interface ServiceClient extends PostgresPoolClient {
  /** Runs a read (named like `query` would) and answers its rows as arrays of values (rowMode 'array'). */
  queryValues(text: string, values: readonly unknown[]): Promise<unknown[][]>
}

interface ServicePool extends PostgresPool {
  connect(): Promise<ServiceClient>
}

/** The pool as Kysely sees it, with transport failures tagged (see tagTransportFailure). */
function taggingPool(pool: pg.Pool): ServicePool {
  const wrapped = new WeakMap<pg.PoolClient, ServiceClient>()
  return {
    async connect() {
      let client: pg.PoolClient
      try {
        client = await pool.connect()
      } catch (error) {
        throw new DatabaseUnavailableError(error)
      }
      let facade = wrapped.get(client)
      if (!facade) {
        // pg-pool listens for errors only on idle clients; a connection lost while Kysely holds the
        // client (between statements of a transaction) would otherwise be an uncaught exception.
        // The loss still surfaces: the next query on it fails, which marks it lost (`failure`), and
        // the pool drops it on release.
        client.on('error', () => {})
        // Set once a query failed because this connection is gone or going (see `failure`).
        let lost = false
        /**
         * A query's error, tagged (tagTransportFailure). One that says the connection is gone or
         * going (isDatabaseUnavailable: the server's FATAL 57P01 arrives before its socket closes;
         * a read timeout leaves the statement running) marks the connection lost, and release then
         * has the pool drop it: handed out again, it failed the next request too.
         */
        const failure = (error: unknown): unknown => {
          const tagged = tagTransportFailure(error)
          if (isDatabaseUnavailable(tagged)) lost = true
          return tagged
        }
        const query = client.query.bind(client) as PostgresPoolClient['query']
        // Names this connection stopped using: their prepared statement went stale (see STALE_PREPARED).
        const stale = new Set<string>()
        // Field parsers of the statements PreparedRead has described on this connection, by name.
        const described = new Map<string, Parser[]>()
        /** A named read through PreparedRead, its rows as arrays of values. */
        const preparedRead = (name: string, text: string, values: unknown[]) =>
          new Promise<{ rows: unknown[][] }>((resolve, reject) => {
            client.query(
              new PreparedRead(
                name,
                text,
                values,
                described.get(name),
                (parsers) => described.set(name, parsers),
                (error, rows) => (error ? reject(error) : resolve({ rows: rows ?? [] })),
              ),
            )
          })
        /** Runs `text` under its statement name when it has one, retrying unnamed once the name went stale. */
        const named = <R>(
          text: string,
          values: unknown[],
          rowMode: 'array' | undefined,
        ): Promise<R> | undefined => {
          const found = statementName(text)
          const name = found !== undefined && !stale.has(found) ? found : undefined
          if (name === undefined) return undefined
          const run = (
            rowMode === 'array' ? preparedRead(name, text, values) : client.query({ name, text, values })
          ) as Promise<R>
          return run.catch((error: unknown) => {
            if (!(error instanceof loadPg().DatabaseError) || !STALE_PREPARED.has(error.code ?? ''))
              throw failure(error)
            // Prepared before a migration changed what it reads or writes: this connection stops
            // using the name and the statement runs again, planned afresh. Inside a transaction
            // the failure has already aborted it, so the retry fails and the first error stands.
            stale.add(name)
            const again = client.query({ text, values, ...(rowMode ? { rowMode } : {}) }) as Promise<R>
            return again.catch((retryError: unknown) => {
              failure(retryError)
              throw error
            })
          })
        }
        facade = {
          query: ((...args: Parameters<PostgresPoolClient['query']>) => {
            const [text, values] = args as unknown[]
            const asNamed = typeof text === 'string' ? named(text, values as unknown[], undefined) : undefined
            if (asNamed) return asNamed
            const result = query(...args) as unknown
            // Cursor queries (streaming) return a cursor object, not a promise: pass them through.
            return result instanceof Promise
              ? result.catch((error: unknown) => {
                  throw failure(error)
                })
              : result
          }) as PostgresPoolClient['query'],
          async queryValues(text, values) {
            const params = values as unknown[] // pg only reads them
            const result = (named<pg.QueryArrayResult>(text, params, 'array') ??
              client.query({ text, values: params, rowMode: 'array' }).catch((error: unknown) => {
                throw failure(error)
              })) as Promise<pg.QueryArrayResult>
            return (await result).rows
          },
          release: () => client.release(lost ? new Error('the connection was lost') : undefined),
        }
        wrapped.set(client, facade)
      }
      return facade
    },
    end: () => pool.end(),
  }
}

const TIMESTAMPTZ_OID = 1184

/** Offsets of the digits in `2026-12-04 11:49:54`, and of its separators with their char codes. */
const UTC_DIGITS = [0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18]
const UTC_SEPARATORS: readonly (readonly [number, number])[] = [
  [4, 0x2d], // -
  [7, 0x2d],
  [10, 0x20], // space
  [13, 0x3a], // :
  [16, 0x3a],
]
const isDigitAt = (text: string, i: number) => {
  const c = text.charCodeAt(i)
  return c >= 0x30 && c <= 0x39
}

/**
 * Whether `text` is timestamptz as PostgreSQL writes it in a UTC session: `2026-12-04 11:49:54`,
 * then an optional fraction of 1–6 digits, then `+00` (22 to 29 characters, never 23).
 */
function isUtcTimestamp(text: string): boolean {
  const n = text.length
  if (n < 22 || n > 29 || n === 23) return false
  for (const i of UTC_DIGITS) if (!isDigitAt(text, i)) return false
  for (const [i, code] of UTC_SEPARATORS) if (text.charCodeAt(i) !== code) return false
  if (text.charCodeAt(n - 3) !== 0x2b || text.charCodeAt(n - 2) !== 0x30 || text.charCodeAt(n - 1) !== 0x30)
    return false
  if (n === 22) return true
  if (text.charCodeAt(19) !== 0x2e) return false // .
  for (let i = 20; i < n - 3; i++) if (!isDigitAt(text, i)) return false
  return true
}

/**
 * timestamptz read as the service's own time text (RFC 3339 UTC with milliseconds, see
 * src/time.ts), not a Date: every reader turns times into that text (toIso), and pg's
 * Date parsing (a regex, Date.UTC and an object per value) plus toISOString cost ~7% of a
 * PostgreSQL listing's CPU, four times a row. Milliseconds are cut, not rounded, as a Date
 * cuts them. Sessions are set to UTC (openPostgres); anything else (`infinity`, which the
 * service never writes) goes through pg's own parser. Checked character by character and cut
 * with slices: a regex match allocates an array and a string per group, and these were a sixth
 * of the bytes a PostgreSQL listing allocated (V8's sampling heap profiler, under load).
 */
export function timestamptzText(text: string): string | Date {
  if (!isUtcTimestamp(text)) return loadPg().types.getTypeParser(TIMESTAMPTZ_OID, 'text')(text) as Date
  const n = text.length
  const date = text.slice(0, 10)
  // 26+ characters: at least milliseconds, cut there. Fewer: the fraction is padded to three digits.
  if (n >= 26) return `${date}T${text.slice(11, 23)}Z`
  if (n === 22) return `${date}T${text.slice(11, 19)}.000Z`
  return `${date}T${text.slice(11, n - 3)}${n === 24 ? '00' : '0'}Z`
}

/** pg's type parsers, with timestamptz read as text (timestamptzText). */
const serviceTypes = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === TIMESTAMPTZ_OID && format !== 'binary'
      ? timestamptzText
      : loadPg().types.getTypeParser(oid, format ?? 'text')) as typeof pg.types.getTypeParser,
}

export interface OpenedPostgres {
  dialect: PostgresDialect
  pool: pg.Pool
  /** Database.readValues: one read on a pooled connection, its rows as arrays of values. */
  readValues(query: CompiledQuery): Promise<unknown[][]>
}

export function openPostgres(settings: PostgresSettings): OpenedPostgres {
  const pool = new (loadPg().Pool)({
    connectionString: settings.url,
    max: settings.poolMax,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: settings.statementTimeoutMs,
    query_timeout: settings.statementTimeoutMs + 1000,
    application_name: 'task-tracker',
    types: serviceTypes,
    // Times come back in UTC whatever the server's or the URL's zone (timestamptzText reads
    // them as text). pg-pool waits for this before it hands the new connection out, so the
    // first query never queues inside pg behind the SET (deprecated, gone in pg@9); if the SET
    // fails, the connection is closed and the checkout fails rather than read another zone.
    // The connect timeout does not cover it (pg-pool clears that timer first); query_timeout does.
    // Not a startup `options`: the URL's own options (a search_path, say) would replace it.
    onConnect: async (client) => {
      await client.query("SET TIME ZONE 'UTC'")
    },
  })
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {})
  const tagging = taggingPool(pool)
  const readValues = async (query: CompiledQuery): Promise<unknown[][]> => {
    const client = await tagging.connect()
    try {
      return await client.queryValues(query.sql, query.parameters)
    } finally {
      client.release()
    }
  }
  return { dialect: new PostgresDialect({ pool: tagging }), pool, readValues }
}

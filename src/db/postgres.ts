// Server engine: PostgreSQL through a `pg` pool with bounded waits, so a
// database outage turns into fast 503s instead of hung requests.
import { PostgresDialect, type PostgresPool, type PostgresPoolClient } from 'kysely'
import pg from 'pg'
import { DatabaseUnavailableError } from './errors.ts'

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
  if (error instanceof pg.DatabaseError) return error
  if (error instanceof Error && typeof (error as { code?: unknown }).code === 'string') return error
  return new DatabaseUnavailableError(error)
}

/**
 * Named (server-side prepared) statements for reads: PostgreSQL then parses and plans a
 * statement once per connection instead of on every request — the bare floor in bench/ does
 * the same. Only SELECTs are named (a plan over a table another instance alters is re-planned
 * by the server; explicit column lists keep result types stable), and only the first
 * MAX_NAMED distinct texts, so ad-hoc queries cannot grow every connection's plan cache.
 */
const MAX_NAMED = 256
const statementNames = new Map<string, string>()

function statementName(text: string): string | undefined {
  let name = statementNames.get(text)
  if (name === undefined) {
    if (statementNames.size >= MAX_NAMED || !/^\s*select\s/i.test(text)) return undefined
    name = `tt_${statementNames.size}`
    statementNames.set(text, name)
  }
  return name
}

/** The pool as Kysely sees it, with transport failures tagged (see tagTransportFailure). */
function taggingPool(pool: pg.Pool): PostgresPool {
  const wrapped = new WeakMap<pg.PoolClient, PostgresPoolClient>()
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
        // The loss still surfaces: the next query on it fails, and the pool drops it on release.
        client.on('error', () => {})
        const query = client.query.bind(client) as PostgresPoolClient['query']
        facade = {
          query: ((...args: Parameters<PostgresPoolClient['query']>) => {
            const [text, values] = args as unknown[]
            const name = typeof text === 'string' ? statementName(text) : undefined
            const result = (
              name === undefined
                ? query(...args)
                : (client.query({ name, text: text as string, values: values as unknown[] }) as unknown)
            ) as unknown
            // Cursor queries (streaming) return a cursor object, not a promise: pass them through.
            return result instanceof Promise
              ? result.catch((error: unknown) => {
                  throw tagTransportFailure(error)
                })
              : result
          }) as PostgresPoolClient['query'],
          release: () => client.release(),
        }
        wrapped.set(client, facade)
      }
      return facade
    },
    end: () => pool.end(),
  }
}

export function openPostgres(settings: PostgresSettings): { dialect: PostgresDialect; pool: pg.Pool } {
  const pool = new pg.Pool({
    connectionString: settings.url,
    max: settings.poolMax,
    connectionTimeoutMillis: settings.connectTimeoutMs,
    idleTimeoutMillis: 30_000,
    statement_timeout: settings.statementTimeoutMs,
    query_timeout: settings.statementTimeoutMs + 1000,
    application_name: 'task-tracker',
  })
  // An idle client losing its connection (database restart) must not crash the process.
  pool.on('error', () => {})
  return { dialect: new PostgresDialect({ pool: taggingPool(pool) }), pool }
}

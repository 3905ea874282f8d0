// Server engine: PostgreSQL through a `pg` pool with bounded waits, so a
// database outage turns into fast 503s instead of hung requests.
import { PostgresDialect } from 'kysely'
import pg from 'pg'

export interface PostgresSettings {
  url: string
  poolMax: number
  connectTimeoutMs: number
  statementTimeoutMs: number
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
  return { dialect: new PostgresDialect({ pool }), pool }
}

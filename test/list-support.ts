// Listings through the service's own code (TaskService.list) on a connection of their own with a
// query log, for suites that check the statements a listing runs and how the engine plans them.
import { type CompiledQuery, Kysely, sql } from 'kysely'
import type { Principal } from '../src/auth/scopes.ts'
import { openPostgres } from '../src/db/postgres.ts'
import type { Schema } from '../src/db/schema.ts'
import { openSqlite } from '../src/db/sqlite.ts'
import { noEventRecorder } from '../src/events/recorder.ts'
import { parseListQuery, type RawListQuery } from '../src/tasks/list-query.ts'
import type { TaskPage } from '../src/tasks/list-repository.ts'
import { TaskService } from '../src/tasks/service.ts'
import { systemClock } from '../src/time.ts'
import type { TestApp } from './helpers.ts'

export interface LoggedListings {
  /** Lists as the user would (role `user`); the page comes with every statement it ran, in order. */
  list(query: RawListQuery): Promise<{ page: TaskPage; statements: CompiledQuery[] }>
  /** The listings' own connection (one on PostgreSQL), e.g. to read its prepared statements. */
  db: Kysely<Schema>
  close(): Promise<void>
}

export function loggedListings(t: TestApp, userId: string): LoggedListings {
  let statements: CompiledQuery[] = []
  const dialect =
    t.engine === 'postgres'
      ? openPostgres({
          url: t.config.DATABASE_URL as string,
          poolMax: 1,
          connectTimeoutMs: 2000,
          statementTimeoutMs: 5000,
        }).dialect
      : openSqlite(t.dataDir).dialect
  const db = new Kysely<Schema>({
    dialect,
    log: (event) => {
      if (event.level === 'query') statements.push(event.query)
    },
  })
  const service = new TaskService({
    database: {
      db,
      engine: t.engine,
      ping: async () => {},
      poolStats: () => undefined,
      close: async () => {},
    },
    clock: systemClock,
    events: noEventRecorder,
    requireIfMatch: false,
  })
  const principal: Principal = { userId, role: 'user', scopes: new Set(['tasks:read']), via: 'session' }
  return {
    async list(query) {
      statements = []
      const page = await service.list(principal, parseListQuery(query, userId))
      return { page, statements }
    },
    db,
    close: () => db.destroy(),
  }
}

/**
 * How the engine reads `statement`: SQLite's query plan, or PostgreSQL's generic plan (the plan
 * the service's named prepared statements settle on) as JSON, on the test app's own database.
 */
export async function planOf(t: TestApp, statement: CompiledQuery): Promise<string> {
  const db = t.app.database.db
  if (t.engine === 'sqlite') {
    const explained = await db.executeQuery<{ detail: string }>({
      ...statement,
      sql: `EXPLAIN QUERY PLAN ${statement.sql}`,
    })
    return explained.rows.map((r) => r.detail).join('\n')
  }
  return db.connection().execute(async (conn) => {
    await sql`SET plan_cache_mode = force_generic_plan`.execute(conn)
    await sql.raw(`PREPARE planned_statement AS ${statement.sql}`).execute(conn)
    try {
      const values = statement.parameters.map((p) => sql.lit(p === null ? null : String(p)))
      const { rows } = await sql<{
        'QUERY PLAN': unknown
      }>`EXPLAIN (FORMAT JSON) EXECUTE planned_statement(${sql.join(values)})`.execute(conn)
      return JSON.stringify(rows[0]?.['QUERY PLAN'])
    } finally {
      await sql`DEALLOCATE planned_statement`.execute(conn)
      await sql`RESET plan_cache_mode`.execute(conn)
    }
  })
}

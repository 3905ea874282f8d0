// The floor: a bare node:http server (no framework, no auth, no logging, no
// schemas) that runs the same SQL as the service for get-by-id and the
// filtered list, on the same data and engine. The SQL is not copied: at start
// it runs the service's own TaskService once with a query log and keeps what it
// executed, then replays those statements as prepared statements on the raw
// driver. /naive runs what most servers do: LIMIT 20 plus a plain COUNT(*).
//
// Run by bench/run.ts as a child process with FLOOR_PORT, DATA_DIR or
// DATABASE_URL, FLOOR_PROBE_ID (a live task id) and FLOOR_USER_ID.
import { createServer, type ServerResponse } from 'node:http'
import type { DatabaseSync } from 'node:sqlite'
import { type CompiledQuery, Kysely } from 'kysely'
import type pg from 'pg'
import type { Principal } from '../src/auth/scopes.ts'
import type { Database } from '../src/db/database.ts'
import { openPostgres } from '../src/db/postgres.ts'
import type { Schema } from '../src/db/schema.ts'
import { openSqlite } from '../src/db/sqlite.ts'
import { noEventRecorder } from '../src/events/recorder.ts'
import { parseListQuery } from '../src/tasks/list-query.ts'
import { TaskService } from '../src/tasks/service.ts'
import { systemClock } from '../src/time.ts'
import { STATUS_VALUES } from './data.ts'

type Row = Record<string, unknown>
/** Runs one statement with its parameters; prepared once, reused for every request. */
type Runner = (sql: string, params: readonly unknown[]) => Promise<Row[]> | Row[]

const env = process.env
const port = Number(env.FLOOR_PORT)
const probeId = env.FLOOR_PROBE_ID ?? ''
const userId = env.FLOOR_USER_ID ?? ''
const databaseUrl = env.DATABASE_URL

let captured: CompiledQuery[] | undefined
const log = (event: { level: string; query: CompiledQuery }) => {
  if (event.level === 'query') captured?.push(event.query)
}

let database: Database
let run: Runner
if (databaseUrl) {
  const { dialect, pool } = openPostgres({
    url: databaseUrl,
    poolMax: 10,
    connectTimeoutMs: 2000,
    statementTimeoutMs: 5000,
  })
  const db = new Kysely<Schema>({ dialect, log })
  database = {
    db,
    engine: 'postgres',
    ping: async () => {},
    poolStats: () => undefined,
    close: () => db.destroy(),
  }
  run = postgresRunner(pool)
} else {
  const { dialect, raw } = openSqlite(env.DATA_DIR ?? './data')
  const db = new Kysely<Schema>({ dialect, log })
  database = {
    db,
    engine: 'sqlite',
    ping: async () => {},
    poolStats: () => undefined,
    close: () => db.destroy(),
  }
  run = sqliteRunner(raw)
}

function sqliteRunner(raw: DatabaseSync): Runner {
  const statements = new Map<string, ReturnType<DatabaseSync['prepare']>>()
  return (sql, params) => {
    let stmt = statements.get(sql)
    if (!stmt) {
      stmt = raw.prepare(sql)
      statements.set(sql, stmt)
    }
    return stmt.all(...(params as (string | number | null)[])) as Row[]
  }
}

function postgresRunner(pool: pg.Pool): Runner {
  const names = new Map<string, string>()
  return async (sql, params) => {
    let name = names.get(sql)
    if (!name) {
      name = `floor_${names.size}`
      names.set(sql, name)
    }
    const result = await pool.query({ name, text: sql, values: params as unknown[] })
    return result.rows as Row[]
  }
}

/** Runs `work` through the service code and returns the statements it executed. */
async function capture(work: () => Promise<unknown>): Promise<CompiledQuery[]> {
  captured = []
  try {
    await work()
  } catch {
    // a 404 from the service still executed its SELECT, which is what is kept
  }
  const queries = captured
  captured = undefined
  return queries
}

const principal: Principal = { userId, role: 'user', scopes: new Set(['tasks:read']), via: 'session' }
const service = new TaskService({
  database,
  clock: systemClock,
  events: noEventRecorder,
  requireIfMatch: false,
})

const getQueries = await capture(() => service.get(principal, probeId))
if (getQueries.length === 0) throw new Error('floor: capturing get-by-id executed no SQL')
const listQueries = new Map<string, CompiledQuery[]>()
for (const status of STATUS_VALUES) {
  listQueries.set(status, await capture(() => service.list(principal, parseListQuery({ status }, userId))))
}

const COLUMNS =
  'id, owner_id, title, description, status, priority, due_at, tags, created_at, updated_at, deleted_at, version'
const naive =
  database.engine === 'postgres'
    ? {
        count: 'SELECT COUNT(*) AS total FROM tasks WHERE deleted_at IS NULL AND status = $1',
        page: `SELECT ${COLUMNS} FROM tasks WHERE deleted_at IS NULL AND status = $1 ORDER BY created_at DESC, id DESC LIMIT 20`,
      }
    : {
        count: 'SELECT COUNT(*) AS total FROM tasks WHERE deleted_at IS NULL AND status = ?',
        page: `SELECT ${COLUMNS} FROM tasks WHERE deleted_at IS NULL AND status = ? ORDER BY created_at DESC, id DESC LIMIT 20`,
      }

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
  })
  res.end(text)
}

async function handle(path: string, query: URLSearchParams): Promise<[number, unknown]> {
  if (path === '/health') return [200, { status: 'ok' }]
  if (path === '/sql')
    return [200, { get: getQueries.map((q) => q.sql), list: listQueries.get('todo')?.map((q) => q.sql) }]
  if (path.startsWith('/tasks/')) {
    const id = path.slice('/tasks/'.length)
    let row: Row | undefined
    for (const q of getQueries) {
      const rows = await run(
        q.sql,
        q.parameters.map((p) => (p === probeId ? id : p)),
      )
      row = rows[0]
    }
    return row && row.deleted_at === null ? [200, row] : [404, { error: 'not found' }]
  }
  const status = query.get('status') ?? 'todo'
  if (path === '/tasks') {
    const queries = listQueries.get(status)
    if (!queries) return [422, { error: 'bad status' }]
    const results: Row[][] = []
    for (const q of queries) results.push(await run(q.sql, q.parameters))
    return [200, { total: results[0]?.[0]?.total, items: results[results.length - 1] }]
  }
  if (path === '/naive') {
    const total = (await run(naive.count, [status]))[0]?.total
    const items = await run(naive.page, [status])
    return [200, { total, items }]
  }
  return [404, { error: 'not found' }]
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://floor')
  handle(url.pathname, url.searchParams).then(
    ([status, body]) => send(res, status, body),
    (error: unknown) => send(res, 500, { error: String(error) }),
  )
})
server.listen(port, '127.0.0.1')

const shutdown = () => {
  server.close()
  server.closeAllConnections()
  void database.close().finally(() => process.exit(0))
}
process.once('SIGTERM', shutdown)
process.once('SIGINT', shutdown)
// A harness killed outright (SIGKILL) leaves this to its reaper (bench/reaper.ts), which sends SIGTERM.

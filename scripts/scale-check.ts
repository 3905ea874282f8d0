// Scale check for GET /v1/tasks: seeds 10k and 1M tasks by bulk SQL into a throwaway SQLite
// file and/or PostgreSQL schema (after the project's migrations, so triggers and indexes are
// the real ones), then times the repository's list call — first page with page.total, a deep
// cursor page, and a few filters — and prints medians (runs on the sizes taken in turns, so
// load from elsewhere on the machine hits all sizes alike) and, with --explain, the plans.
//
//   node scripts/scale-check.ts [--engines sqlite,postgres] [--sizes 10000,1000000] [--runs 25] [--explain]
//
// PostgreSQL comes from SCALE_DATABASE_URL, else TEST_DATABASE_URL (a schema is created and dropped).
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { type CompiledQuery, Kysely, sql } from 'kysely'
import pg from 'pg'
import type { Database, Engine } from '../src/db/database.ts'
import { migrateToLatest } from '../src/db/migrate.ts'
import { openPostgres } from '../src/db/postgres.ts'
import type { Schema } from '../src/db/schema.ts'
import { openSqlite } from '../src/db/sqlite.ts'
import { type ListPlan, parseListQuery } from '../src/tasks/list-query.ts'
import { listTasks } from '../src/tasks/list-repository.ts'

const { values: args } = parseArgs({
  options: {
    engines: { type: 'string', default: 'sqlite,postgres' },
    sizes: { type: 'string', default: '10000,1000000' },
    runs: { type: 'string', default: '25' },
    explain: { type: 'boolean', default: false },
  },
})
const engines = args.engines.split(',') as Engine[]
const sizes = args.sizes.split(',').map(Number)
const runs = Number(args.runs)
const USERS = 100

interface Opened {
  database: Database
  captured: CompiledQuery[]
  cleanup(): Promise<void>
}

async function open(engine: Engine, label: string): Promise<Opened> {
  const captured: CompiledQuery[] = []
  const log = (event: { query: CompiledQuery }) => {
    captured.push(event.query)
  }
  if (engine === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'tt-scale-'))
    const { dialect, raw } = openSqlite(dir)
    // Seeding only: a power cut during the check loses nothing worth keeping.
    raw.exec('PRAGMA synchronous = OFF')
    const db = new Kysely<Schema>({ dialect, log })
    return {
      database: {
        db,
        engine,
        ping: async () => {},
        poolStats: () => undefined,
        close: () => db.destroy(),
      },
      captured,
      async cleanup() {
        await db.destroy()
        rmSync(dir, { recursive: true, force: true })
      },
    }
  }
  const base = process.env.SCALE_DATABASE_URL ?? process.env.TEST_DATABASE_URL
  if (!base) throw new Error('set SCALE_DATABASE_URL or TEST_DATABASE_URL for the PostgreSQL run')
  const schema = `scale_${process.pid}_${label}`
  const admin = new pg.Client({ connectionString: base })
  await admin.connect()
  await admin.query(`CREATE SCHEMA ${schema}`)
  await admin.end()
  const url = new URL(base)
  url.searchParams.set('options', `-c search_path=${schema}`)
  const { dialect, pool } = openPostgres({
    url: url.toString(),
    poolMax: 4,
    connectTimeoutMs: 5000,
    statementTimeoutMs: 600_000,
  })
  const db = new Kysely<Schema>({ dialect, log })
  return {
    database: {
      db,
      engine,
      ping: async () => {},
      poolStats: () => ({ total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }),
      close: () => db.destroy(),
    },
    captured,
    async cleanup() {
      await db.destroy()
      const c = new pg.Client({ connectionString: base })
      await c.connect()
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await c.end()
    },
  }
}

/** UUID-shaped ids that sort like UUIDv7 (by creation), 1 task per second from 2024-01-01. */
async function seed(database: Database, size: number): Promise<string> {
  const { db, engine } = database
  // The viewer owns 1 task in 100, none of them deleted (every 50th task is).
  const userId = '00000000-0000-7000-8000-000000000002'
  if (engine === 'sqlite') {
    await sql`WITH RECURSIVE u(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM u WHERE i < ${USERS})
      INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at)
      SELECT printf('00000000-0000-7000-8000-%012x', i), 'u' || i || '@example.com', 'User ' || i, NULL, 'user',
             '2024-01-01T00:00:00.000Z', '2024-01-01T00:00:00.000Z' FROM u`.execute(db)
    await sql`WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ${size})
      INSERT INTO tasks (id, owner_id, title, description, status, priority, due_at, tags, created_at, updated_at, deleted_at, version)
      SELECT printf('%08x-0000-7000-9000-%012x', i / 65536, i), printf('00000000-0000-7000-8000-%012x', 1 + i % ${USERS}),
             'Task number ' || i, 'Seeded for the scale check', CASE i % 3 WHEN 0 THEN 'todo' WHEN 1 THEN 'doing' ELSE 'done' END,
             i % 4, CASE WHEN i % 4 = 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ', 1704672000 + i, 'unixepoch') END,
             CASE WHEN i % 10 = 0 THEN '["work"]' ELSE '[]' END,
             strftime('%Y-%m-%dT%H:%M:%fZ', 1704067200 + i, 'unixepoch'), strftime('%Y-%m-%dT%H:%M:%fZ', 1704067200 + i, 'unixepoch'),
             CASE WHEN i % 50 = 0 THEN strftime('%Y-%m-%dT%H:%M:%fZ', 1704067200 + i, 'unixepoch') END, 1
      FROM s`.execute(db)
    await sql`INSERT INTO task_tags (task_id, tag, created_at) SELECT id, 'work', created_at FROM tasks WHERE tags = '["work"]'`.execute(
      db,
    )
    await sql`ANALYZE`.execute(db)
  } else {
    await sql`INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at)
      SELECT ('00000000-0000-7000-8000-' || lpad(to_hex(i), 12, '0'))::uuid, 'u' || i || '@example.com', 'User ' || i,
             NULL, 'user', '2024-01-01T00:00:00Z', '2024-01-01T00:00:00Z' FROM generate_series(1, ${USERS}) i`.execute(
      db,
    )
    // One transaction of 1M inserts would bump the same counter rows 1M times (row versions pile up
    // until commit); bulk loads switch the counting trigger off and count once, as migration 0003's
    // backfill does. The full-text index is likewise built once after the load.
    await sql`ALTER TABLE tasks DISABLE TRIGGER task_counts_change`.execute(db)
    await sql`ALTER TABLE tasks DISABLE TRIGGER task_tag_counts_change`.execute(db)
    await sql`DROP INDEX tasks_search`.execute(db)
    await sql`INSERT INTO tasks (id, owner_id, title, description, status, priority, due_at, tags, created_at, updated_at, deleted_at, version)
      SELECT (lpad(to_hex(i / 65536), 8, '0') || '-0000-7000-9000-' || lpad(to_hex(i), 12, '0'))::uuid,
             ('00000000-0000-7000-8000-' || lpad(to_hex(1 + i % ${USERS}), 12, '0'))::uuid,
             'Task number ' || i, 'Seeded for the scale check', (ARRAY['todo','doing','done'])[1 + i % 3], i % 4,
             CASE WHEN i % 4 = 0 THEN to_timestamp(1704672000 + i) END,
             CASE WHEN i % 10 = 0 THEN '["work"]'::jsonb ELSE '[]'::jsonb END,
             to_timestamp(1704067200 + i), to_timestamp(1704067200 + i),
             CASE WHEN i % 50 = 0 THEN to_timestamp(1704067200 + i) END, 1
      FROM generate_series(1, ${size}) i`.execute(db)
    await sql`CREATE INDEX tasks_search ON tasks USING gin (search)`.execute(db)
    await sql`ALTER TABLE tasks ENABLE TRIGGER task_counts_change`.execute(db)
    await sql`ALTER TABLE tasks ENABLE TRIGGER task_tag_counts_change`.execute(db)
    await sql`INSERT INTO task_tag_counts (tag, scope, deleted, status, priority, slot, n)
      SELECT j.tag, t.owner_id::text, (t.deleted_at IS NOT NULL)::int, t.status, t.priority, 0, count(*)
      FROM tasks t, jsonb_array_elements_text(t.tags) AS j(tag) GROUP BY 1, 2, 3, 4, 5
      UNION ALL
      SELECT j.tag, '*', (t.deleted_at IS NOT NULL)::int, t.status, t.priority, 0, count(*)
      FROM tasks t, jsonb_array_elements_text(t.tags) AS j(tag) GROUP BY 1, 3, 4, 5`.execute(db)
    await sql`DELETE FROM task_counts`.execute(db)
    await sql`INSERT INTO task_counts (scope, deleted, status, priority, slot, n)
      SELECT owner_id::text, (deleted_at IS NOT NULL)::int, status, priority, 0, count(*) FROM tasks GROUP BY 1, 2, 3, 4
      UNION ALL
      SELECT '*', (deleted_at IS NOT NULL)::int, status, priority, 0, count(*) FROM tasks GROUP BY 2, 3, 4`.execute(
      db,
    )
    await sql`INSERT INTO task_tags (task_id, tag, created_at) SELECT id, 'work', created_at FROM tasks WHERE tags = '["work"]'::jsonb`.execute(
      db,
    )
    await sql`VACUUM ANALYZE tasks`.execute(db)
    await sql`ANALYZE task_tags`.execute(db)
    await sql`VACUUM ANALYZE task_counts`.execute(db)
    await sql`VACUUM ANALYZE task_tag_counts`.execute(db)
  }
  return userId
}

/** Median of `runs` timings of each function, taken in turns so that load from elsewhere hits all alike. */
async function interleavedMedians(fns: (() => Promise<unknown>)[]): Promise<number[]> {
  for (let i = 0; i < 3; i++) for (const fn of fns) await fn()
  const times: number[][] = fns.map(() => [])
  for (let i = 0; i < runs; i++)
    for (const [n, fn] of fns.entries()) {
      const t0 = performance.now()
      await fn()
      times[n]!.push(performance.now() - t0)
    }
  return times.map((t) => t.sort((a, b) => a - b)[Math.floor(t.length / 2)] as number)
}

async function explain(opened: Opened, label: string, run: () => Promise<unknown>): Promise<void> {
  opened.captured.length = 0
  await run()
  const { db, engine } = opened.database
  console.log(`\n--- ${engine}: ${label}`)
  for (const query of opened.captured.splice(0)) {
    const text = query.sql.replace(/\s+/g, ' ')
    console.log(`SQL: ${text.slice(0, 300)}${text.length > 300 ? '…' : ''}`)
    const prefix = engine === 'sqlite' ? 'EXPLAIN QUERY PLAN ' : 'EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) '
    const plan = await db.executeQuery({ ...query, sql: prefix + query.sql, query: query.query })
    for (const row of plan.rows as Record<string, unknown>[])
      console.log(`  ${engine === 'sqlite' ? row.detail : row['QUERY PLAN']}`)
  }
}

interface Loaded {
  size: number
  opened: Opened
  seedSeconds: string
  total: number
  plans: [string, () => Promise<unknown>][]
}

/** Seeds one database of `size` tasks and prepares the list calls to time on it. */
async function load(engine: Engine, size: number): Promise<Loaded> {
  const opened = await open(engine, String(size))
  const { database } = opened
  await migrateToLatest(database)
  const t0 = performance.now()
  const userId = await seed(database, size)
  const seedSeconds = ((performance.now() - t0) / 1000).toFixed(1)
  const viewer = { userId, seesAllDeleted: false }
  const list = (plan: ListPlan) => listTasks(database.db, engine, plan, viewer)
  const first = parseListQuery({}, userId)
  const total = (await list(first)).total
  // A cursor positioned half-way down the default order, as a client holds after paging there.
  const half = await sql<{ created_at: string | Date; id: string }>`SELECT created_at, id FROM tasks
    WHERE deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 1 OFFSET ${Math.floor(size / 2)}`.execute(
    database.db,
  )
  const mid = half.rows[0]!
  const createdAt = mid.created_at instanceof Date ? mid.created_at.toISOString() : mid.created_at
  const deep: ListPlan = { ...first, position: { after: [createdAt], id: mid.id } }
  const plans: [string, ListPlan][] = [
    ['first page + total', first],
    ['deep cursor page', deep],
    ['status=todo', parseListQuery({ status: 'todo' }, userId)],
    ['ownerId=me', parseListQuery({ ownerId: 'me' }, userId)],
    ['tag=work', parseListQuery({ tag: 'work' }, userId)],
    ['dueBefore (COUNT)', parseListQuery({ dueBefore: '2030-01-01T00:00:00Z' }, userId)],
  ]
  if (args.explain)
    for (const [label, plan] of plans) await explain(opened, `${label} @ ${size}`, () => list(plan))
  return { size, opened, seedSeconds, total, plans: plans.map(([label, plan]) => [label, () => list(plan)]) }
}

const results: string[] = []
for (const engine of engines) {
  const loaded: Loaded[] = []
  try {
    for (const size of sizes) loaded.push(await load(engine, size))
    const labels = loaded[0]?.plans.map(([label]) => label) ?? []
    const table = new Map<number, string[]>()
    for (const [n, label] of labels.entries()) {
      const medians = await interleavedMedians(loaded.map((l) => l.plans[n]![1]))
      for (const [i, l] of loaded.entries())
        table.set(l.size, [...(table.get(l.size) ?? []), `${label} ${medians[i]!.toFixed(2)} ms`])
    }
    for (const l of loaded) {
      const line = `${engine} ${l.size.toLocaleString('en')} tasks (seeded in ${l.seedSeconds} s, total=${l.total}): ${table.get(l.size)!.join(' | ')}`
      console.log(line)
      results.push(line)
    }
  } finally {
    for (const l of loaded) await l.opened.cleanup()
  }
}
console.log(`\nmedians of ${runs} interleaved runs after 3 warm-ups:\n${results.join('\n')}`)

// Seeds a bench database of its own: the project's migrations through src/db,
// then bulk inserts with the raw driver (node:sqlite prepared statements in big
// transactions; PostgreSQL INSERT … SELECT FROM unnest(arrays)), task_tags last.

import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import pg from 'pg'
import { hashPassword } from '../src/auth/passwords.ts'
import { configFrom } from '../src/config.ts'
import { openDatabase } from '../src/db/database.ts'
import { migrateToLatest } from '../src/db/migrate.ts'
import { BENCH_PASSWORD, makeTasks, makeUsers, type SeedTask, type SeedUser } from './data.ts'

export interface SeedSizes {
  users: number
  tasks: number
}

export interface Seeded {
  /** Live task ids spread over the whole table, for the get-by-id scenario and its floor. */
  sampleIds: string[]
  /** The bench user (user 0): its email, id and its live tasks, for the write scenarios. */
  benchUser: SeedUser
  ownTaskIds: string[]
  liveTasks: number
  deletedTasks: number
  seconds: number
}

const SAMPLE_MAX = 10_000
const BATCH = 10_000

/** Runs the service's own migrations on the target (SQLite dir or PostgreSQL URL). */
async function migrate(target: { dataDir: string; databaseUrl?: string }): Promise<void> {
  const database = openDatabase(
    configFrom({
      DATA_DIR: target.dataDir,
      ...(target.databaseUrl ? { DATABASE_URL: target.databaseUrl } : {}),
    }),
  )
  try {
    await migrateToLatest(database)
  } finally {
    await database.close()
  }
}

/** A few real argon2id hashes of the bench password, shared round-robin (hashing 1,000 would take a minute). */
async function passwordHashes(): Promise<string[]> {
  return Promise.all([0, 1, 2, 3].map(() => hashPassword(BENCH_PASSWORD)))
}

class Collector {
  readonly sampleIds: string[] = []
  readonly ownTaskIds: string[] = []
  live = 0
  deleted = 0
  readonly #every: number
  readonly #benchUserId: string
  constructor(tasks: number, benchUserId: string) {
    this.#every = Math.max(1, Math.floor(tasks / SAMPLE_MAX))
    this.#benchUserId = benchUserId
  }
  add(task: SeedTask, index: number): void {
    if (task.deletedAt !== null) {
      this.deleted++
      return
    }
    this.live++
    if (index % this.#every === 0 && this.sampleIds.length < SAMPLE_MAX) this.sampleIds.push(task.id)
    if (task.ownerId === this.#benchUserId) this.ownTaskIds.push(task.id)
  }
}

export async function seedSqlite(dataDir: string, sizes: SeedSizes): Promise<Seeded> {
  const started = performance.now()
  await migrate({ dataDir })
  const now = Date.now()
  const users = makeUsers(sizes.users, now)
  const hashes = await passwordHashes()
  const raw = new DatabaseSync(join(dataDir, 'task-tracker.db'))
  try {
    // Bulk load only: the service reopens with its own (durable) settings.
    raw.exec('PRAGMA journal_mode = WAL; PRAGMA synchronous = OFF; PRAGMA cache_size = -262144;')
    const insertUser = raw.prepare(
      `INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at) VALUES (?, ?, ?, ?, 'user', ?, ?)`,
    )
    raw.exec('BEGIN')
    users.forEach((u, i) => {
      insertUser.run(u.id, u.email, u.name, hashes[i % hashes.length] as string, u.createdAt, u.createdAt)
    })
    raw.exec('COMMIT')
    const insertTask = raw.prepare(
      `INSERT INTO tasks (id, owner_id, title, description, status, priority, due_at, tags, created_at, updated_at, deleted_at, version)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    const collector = new Collector(sizes.tasks, (users[0] as SeedUser).id)
    let index = 0
    raw.exec('BEGIN')
    for (const t of makeTasks(sizes.tasks, users, now)) {
      insertTask.run(
        t.id,
        t.ownerId,
        t.title,
        t.description,
        t.status,
        t.priority,
        t.dueAt,
        JSON.stringify(t.tags),
        t.createdAt,
        t.updatedAt,
        t.deletedAt,
        t.version,
      )
      collector.add(t, index)
      if (++index % BATCH === 0) {
        raw.exec('COMMIT; BEGIN')
        // Let Ctrl-C in between batches: the signal handler runs only when the loop yields.
        await new Promise((resolve) => setImmediate(resolve))
      }
    }
    raw.exec('COMMIT')
    raw.exec(
      'INSERT INTO task_tags (task_id, tag, created_at) SELECT tasks.id, j.value, tasks.created_at FROM tasks, json_each(tasks.tags) j',
    )
    raw.exec('PRAGMA wal_checkpoint(TRUNCATE)')
    return result(collector, users, started)
  } finally {
    raw.close()
  }
}

function result(collector: Collector, users: SeedUser[], started: number): Seeded {
  return {
    sampleIds: collector.sampleIds,
    benchUser: users[0] as SeedUser,
    ownTaskIds: collector.ownTaskIds,
    liveTasks: collector.live,
    deletedTasks: collector.deleted,
    seconds: (performance.now() - started) / 1000,
  }
}

export async function seedPostgres(url: string, dataDir: string, sizes: SeedSizes): Promise<Seeded> {
  const started = performance.now()
  await migrate({ dataDir, databaseUrl: url })
  const now = Date.now()
  const users = makeUsers(sizes.users, now)
  const hashes = await passwordHashes()
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    await client.query('SET synchronous_commit = off')
    await client.query(
      `INSERT INTO users (id, email, name, password_hash, role, created_at, updated_at)
       SELECT id, email, name, hash, 'user', at, at FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS u(id, email, name, hash, at)`,
      [
        users.map((u) => u.id),
        users.map((u) => u.email),
        users.map((u) => u.name),
        users.map((_, i) => hashes[i % hashes.length]),
        users.map((u) => u.createdAt),
      ],
    )
    const collector = new Collector(sizes.tasks, (users[0] as SeedUser).id)
    let batch: SeedTask[] = []
    let index = 0
    const flush = async () => {
      if (batch.length === 0) return
      await client.query(
        `INSERT INTO tasks (id, owner_id, title, description, status, priority, due_at, tags, created_at, updated_at, deleted_at, version)
         SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::smallint[],
           $7::timestamptz[], $8::jsonb[], $9::timestamptz[], $10::timestamptz[], $11::timestamptz[], $12::int[])`,
        [
          batch.map((t) => t.id),
          batch.map((t) => t.ownerId),
          batch.map((t) => t.title),
          batch.map((t) => t.description),
          batch.map((t) => t.status),
          batch.map((t) => t.priority),
          batch.map((t) => t.dueAt),
          batch.map((t) => JSON.stringify(t.tags)),
          batch.map((t) => t.createdAt),
          batch.map((t) => t.updatedAt),
          batch.map((t) => t.deletedAt),
          batch.map((t) => t.version),
        ],
      )
      batch = []
    }
    for (const t of makeTasks(sizes.tasks, users, now)) {
      batch.push(t)
      collector.add(t, index++)
      if (batch.length >= BATCH) await flush()
    }
    await flush()
    await client.query(
      'INSERT INTO task_tags (task_id, tag, created_at) SELECT id, jsonb_array_elements_text(tags), created_at FROM tasks',
    )
    // What autovacuum would do after a bulk load, so plans are the steady-state ones.
    await client.query('VACUUM ANALYZE users, tasks, task_tags')
    return result(collector, users, started)
  } finally {
    await client.end()
  }
}

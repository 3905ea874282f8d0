// Prepared statements outlive a migration run by another instance: a statement prepared before
// a column's type changed fails on the connection that prepared it (0A000 for a read whose
// result type changed, 42804 for a write whose parameter no longer fits). The pool's facade
// (src/db/postgres.ts) runs it again unnamed and stops using the name on that connection, so
// requests keep being answered without a restart.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CompiledQuery, Kysely, sql } from 'kysely'
import { openPostgres, PREPARED_WRITE, statementName } from '../src/db/postgres.ts'
import type { Schema } from '../src/db/schema.ts'
import { uuidv7 } from '../src/ids.ts'
import { buildTestApp, createTask, registerAndLogin, type TestApp, type TestUser } from './helpers.ts'

describe('prepared statements after a migration (postgres)', () => {
  let t: TestApp
  let user: TestUser
  let db: Kysely<Schema>
  let taskId: string
  let readValues: ReturnType<typeof openPostgres>['readValues']

  before(async () => {
    t = await buildTestApp({}, {}, 'postgres')
    user = await registerAndLogin(t.app)
    taskId = (await createTask(t.app, user, { title: 'Prepared' })).id
    // One connection: every statement below runs, and is prepared, on the same one.
    const opened = openPostgres({
      url: t.config.DATABASE_URL as string,
      poolMax: 1,
      connectTimeoutMs: 2000,
      statementTimeoutMs: 5000,
    })
    db = new Kysely<Schema>({ dialect: opened.dialect })
    readValues = opened.readValues
  })
  after(async () => {
    await db?.destroy()
    await t?.close()
  })

  const preparedHere = async (text: string) =>
    (
      await sql<{
        n: number
      }>`SELECT count(*)::int AS n FROM pg_prepared_statements WHERE statement = ${text}`.execute(db)
    ).rows[0]?.n

  it('answers a read whose result type a migration changed, and keeps answering it', async () => {
    const read = sql<{
      version: number | string
    }>`SELECT id, version FROM tasks WHERE id = ${taskId} /* stale read */`
    const text = read.compile(db).sql
    assert.ok(statementName(text))
    assert.equal(Number((await read.execute(db)).rows[0]?.version), 1)
    assert.equal(await preparedHere(text), 1)
    // Another instance's migration, on another connection.
    await sql`ALTER TABLE tasks ALTER COLUMN version TYPE bigint`.execute(t.app.database.db)
    assert.equal(Number((await read.execute(db)).rows[0]?.version), 1)
    assert.equal(Number((await read.execute(db)).rows[0]?.version), 1, 'and again, unnamed from now on')
  })

  it('answers a read as values (Database.readValues) whose result type a migration changed', async () => {
    const query = CompiledQuery.raw('SELECT id, name FROM users WHERE id = $1 /* stale values */', [user.id])
    assert.ok(statementName(query.sql))
    assert.deepEqual(await readValues(query), [[user.id, 'Test User']])
    assert.equal(await preparedHere(query.sql), 1)
    await sql`ALTER TABLE users ALTER COLUMN name TYPE varchar(200)`.execute(t.app.database.db)
    assert.deepEqual(await readValues(query), [[user.id, 'Test User']])
    assert.deepEqual(await readValues(query), [[user.id, 'Test User']], 'and again, unnamed from now on')
  })

  it('answers a prepared write whose column a migration changed', async () => {
    const write = (payload: string) => sql`${sql.raw(PREPARED_WRITE)}INSERT INTO events
      (type, task_id, owner_id, payload, created_at) VALUES ('task.updated', ${taskId}, ${user.id}, ${payload}, now())
      /* stale write */`
    await write('{"n":1}').execute(db)
    assert.equal(await preparedHere(write('').compile(db).sql), 1)
    await sql`ALTER TABLE events ALTER COLUMN payload TYPE jsonb USING payload::jsonb`.execute(
      t.app.database.db,
    )
    await write('{"n":2}').execute(db)
    await write('{"n":3}').execute(db)
    const { rows } = await sql<{ n: number }>`
      SELECT (payload->>'n')::int AS n FROM events WHERE type = 'task.updated' AND task_id = ${taskId}
      ORDER BY id`.execute(t.app.database.db)
    assert.deepEqual(
      rows.map((r) => r.n),
      [1, 2, 3],
    )
  })

  it('still reports a statement that fails for a reason of its own', async () => {
    const bad = sql`${sql.raw(PREPARED_WRITE)}UPDATE tasks SET version = ${'not a number'} WHERE id = ${uuidv7()}`
    await assert.rejects(bad.execute(db), (e: { code?: string }) => e.code === '22P02')
  })
})

// Database.readValues on PostgreSQL runs a named read through its own Submittable (PreparedRead
// in src/db/postgres.ts), not pg's Query: the row description is asked for only with the first
// execution on a connection and its field parsers are kept. These are the ways that could go
// wrong: a repeat read parsed differently from the first, a column whose type changed read with
// the old parser, and a failed read (the server's error, a value pg cannot send) leaving its
// connection unusable, and a connection the server ended (its FATAL error arrives before the
// socket closes) handed out again to fail the next request too. One connection throughout
// (poolMax 1), in a schema of its own.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CompiledQuery, Kysely, sql } from 'kysely'
import type pg from 'pg'
import { type OpenedPostgres, openPostgres, statementName } from '../src/db/postgres.ts'

const base = process.env.TEST_DATABASE_URL as string
const schema = `t_prepared_read_${process.pid}`

describe('prepared reads as values (postgres)', () => {
  let admin: OpenedPostgres
  let opened: OpenedPostgres
  /** RowDescription messages the one pooled connection has received. */
  let descriptions = 0

  before(async () => {
    admin = openPostgres({ url: base, poolMax: 1, connectTimeoutMs: 2000, statementTimeoutMs: 5000 })
    await admin.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE; CREATE SCHEMA ${schema}`)
    await admin.pool.query(
      `CREATE TABLE ${schema}.items (id int PRIMARY KEY, n int, label text, at timestamptz)`,
    )
    await admin.pool.query(
      `INSERT INTO ${schema}.items VALUES (1, 10, 'one', '2026-12-05 10:11:12.345678+00'), (2, NULL, NULL, NULL), (3, 30, 'three', '2026-12-05 10:11:12+00')`,
    )
    const url = new URL(base)
    url.searchParams.set('options', `-c search_path=${schema}`)
    opened = openPostgres({
      url: url.toString(),
      poolMax: 1,
      connectTimeoutMs: 2000,
      statementTimeoutMs: 5000,
    })
    const client = await opened.pool.connect()
    ;(client as unknown as { connection: pg.Connection }).connection.on('rowDescription', () => {
      descriptions++
    })
    client.release()
  })
  after(async () => {
    await opened?.pool.end()
    await admin?.pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    await admin?.pool.end()
  })

  const read = (text: string, parameters: unknown[] = []) =>
    opened.readValues(CompiledQuery.raw(text, parameters))

  it('reads typed values, the same on every execution, describing the statement once', async () => {
    const text = 'SELECT id, n, label, at FROM items WHERE id <= $1 ORDER BY id'
    assert.ok(statementName(text), 'a named statement')
    const expected = [
      [1, 10, 'one', '2026-12-05T10:11:12.345Z'],
      [2, null, null, null],
      [3, 30, 'three', '2026-12-05T10:11:12.000Z'],
    ]
    const before = descriptions
    for (let i = 0; i < 3; i++) assert.deepEqual(await read(text, [3]), expected)
    assert.equal(descriptions - before, 1, 'one RowDescription for three executions')
    assert.deepEqual(await read(text, [0]), [], 'no rows')
    assert.equal(descriptions - before, 1)
  })

  it('reads a column whose type changed under the new type, not with the parser kept', async () => {
    const text = 'SELECT n FROM items WHERE id = $1 /* retyped */'
    assert.deepEqual(await read(text, [1]), [[10]])
    assert.deepEqual(await read(text, [1]), [[10]])
    // Another connection's migration: int4 (parsed to a number) becomes int8 (pg reads it as text).
    await admin.pool.query(`ALTER TABLE ${schema}.items ALTER COLUMN n TYPE bigint`)
    assert.deepEqual(await read(text, [1]), [['10']])
    assert.deepEqual(await read(text, [1]), [['10']], 'and again')
  })

  it("answers the server's error and keeps the connection", async () => {
    const text = 'SELECT id / $1::int FROM items WHERE id = 1'
    assert.deepEqual(await read(text, [1]), [[1]])
    await assert.rejects(read(text, [0]), (e: { code?: string }) => e.code === '22012')
    assert.deepEqual(await read(text, [1]), [[1]], 'the same statement again')
    assert.deepEqual(await read('SELECT label FROM items WHERE id = $1', [3]), [['three']])
  })

  it('fails a read whose connection is lost while it runs, and the next read gets a new one', async () => {
    const [[pid]] = (await read('SELECT pg_backend_pid() /* lost */')) as [[number]]
    // Its failure may come before the terminating query's answer: watched from the start.
    const failed = assert.rejects(read('SELECT pg_sleep($1) /* lost */', [5]))
    await new Promise((resolve) => setTimeout(resolve, 100))
    await admin.pool.query('SELECT pg_terminate_backend($1)', [pid])
    await failed
    const [[next]] = (await read('SELECT pg_backend_pid() /* lost */')) as [[number]]
    assert.notEqual(next, pid, 'a new connection')
    assert.deepEqual(await read('SELECT label FROM items WHERE id = $1', [3]), [['three']])
  })

  it("drops a connection lost under one of Kysely's queries too", async () => {
    const db = new Kysely<Record<string, never>>({ dialect: opened.dialect })
    const pidOf = async () =>
      Number((await sql<{ pid: number }>`SELECT pg_backend_pid() AS pid`.execute(db)).rows[0]?.pid)
    const pid = await pidOf()
    const failed = assert.rejects(sql`SELECT pg_sleep(5) /* lost under kysely */`.execute(db))
    await new Promise((resolve) => setTimeout(resolve, 100))
    await admin.pool.query('SELECT pg_terminate_backend($1)', [pid])
    await failed
    assert.notEqual(await pidOf(), pid, 'a new connection')
  })

  it('refuses a value pg cannot send and keeps the connection', async () => {
    const circular: Record<string, unknown> = {}
    circular.self = circular
    const text = 'SELECT id FROM items WHERE label = $1'
    // pg's own error (a TypeError), which the facade reports as it reports any error without a code.
    await assert.rejects(read(text, [circular]), (e: Error) => /circular/i.test(String(e.cause ?? e)))
    assert.deepEqual(await read(text, ['one']), [[1]], 'the same statement with a value it can send')
  })
})

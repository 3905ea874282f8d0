// Search off the main thread on SQLite (src/db/sqlite-reader.ts), against a real
// database file and a real worker thread: a search is answered while the main
// connection is held by a write transaction, sees only what is committed, sees
// everything acknowledged, cannot write, and fails as an error (not a hang) when
// its thread is gone.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { runInTransaction } from '../src/db/database.ts'
import { DatabaseUnavailableError } from '../src/db/errors.ts'
import { openSqlite } from '../src/db/sqlite.ts'
import { SqliteReader } from '../src/db/sqlite-reader.ts'
import { buildTestApp, createTask, registerAndLogin, type TestApp, type TestUser } from './helpers.ts'

/** Fails instead of hanging when `promise` would wait for something that never comes. */
function within<T>(promise: Promise<T>, what: string, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

describe('full-text search off the main thread (sqlite)', () => {
  let t: TestApp
  let user: TestUser

  before(async () => {
    t = await buildTestApp()
    user = await registerAndLogin(t.app)
    await createTask(t.app, user, { title: 'Quokka census', description: 'count them all' })
  })
  after(() => t.close())

  const search = (q: string) =>
    t.app.inject({ method: 'GET', url: `/v1/tasks?q=${encodeURIComponent(q)}`, headers: user.auth })

  it('answers while a write transaction holds the main connection, without its uncommitted rows', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let started!: () => void
    const inside = new Promise<void>((resolve) => {
      started = resolve
    })
    const held = runInTransaction(t.app.database, async (trx) => {
      await sql`UPDATE tasks SET title = 'Quokka renamed' WHERE owner_id = ${user.id}`.execute(trx)
      started()
      await gate
    })
    await inside
    // A create queues behind the held transaction; a search does not.
    const create = t.app.inject({
      method: 'POST',
      url: '/v1/tasks',
      headers: user.auth,
      payload: { title: 'Quokka second' },
    })
    let during: Awaited<ReturnType<typeof search>>
    try {
      during = await within(search('quokka'), 'a search while the main connection is held', 5_000)
    } finally {
      // Released whatever happened, so a failure here is a red test, not a hung one.
      release()
    }
    assert.equal(during.statusCode, 200)
    const body = during.json() as { items: { title: string }[]; page: { total: number } }
    assert.deepEqual(
      body.items.map((i) => i.title),
      ['Quokka census'],
      'the uncommitted rename and the queued create are not visible',
    )
    assert.equal(body.page.total, 1)
    await held
    assert.equal((await create).statusCode, 201)
    const afterCommit = (await search('quokka')).json() as {
      items: { title: string }[]
      page: { total: number }
    }
    assert.deepEqual(afterCommit.items.map((i) => i.title).sort(), ['Quokka renamed', 'Quokka second'])
    assert.equal(afterCommit.page.total, 2)
  })

  it('sees every acknowledged write at once', async () => {
    for (let i = 0; i < 20; i++) {
      const word = `wombat${i}x`
      await createTask(t.app, user, { title: `Find the ${word}` })
      const res = await search(word)
      assert.equal(res.statusCode, 200)
      assert.equal(
        (res.json() as { page: { total: number } }).page.total,
        1,
        `${word} is found right after its 201`,
      )
    }
  })

  it('cannot write through the reader connection', async () => {
    const read = t.app.database.readOffThread
    assert.ok(read, 'SQLite offers readOffThread')
    const before = await sql<{ n: number }>`SELECT count(*) AS n FROM tasks`.execute(t.app.database.db)
    await assert.rejects(
      read([sql`DELETE FROM tasks`.compile(t.app.database.db)]),
      (e: { errcode?: number }) => {
        assert.equal(e.errcode, 8, 'SQLITE_READONLY')
        return true
      },
    )
    const afterwards = await sql<{ n: number }>`SELECT count(*) AS n FROM tasks`.execute(t.app.database.db)
    assert.deepEqual(afterwards.rows, before.rows)
  })

  it('returns an engine error with its code, and goes on answering', async () => {
    const read = t.app.database.readOffThread as NonNullable<typeof t.app.database.readOffThread>
    await assert.rejects(
      read([sql`SELECT * FROM no_such_table`.compile(t.app.database.db)]),
      (e: { code?: string; message?: string }) => {
        assert.equal(e.code, 'ERR_SQLITE_ERROR')
        assert.match(String(e.message), /no such table/)
        return true
      },
    )
    const [counts, ids] = await read([
      sql`SELECT count(*) AS n FROM tasks`.compile(t.app.database.db),
      sql`SELECT id FROM tasks ORDER BY id LIMIT 2`.compile(t.app.database.db),
    ])
    const onMain = await sql<{ n: number }>`SELECT count(*) AS n FROM tasks`.execute(t.app.database.db)
    assert.equal((counts?.[0] as { n?: number } | undefined)?.n, onMain.rows[0]?.n)
    assert.equal(typeof onMain.rows[0]?.n, 'number')
    assert.equal(ids?.length, 2)
  })

  it('counts the reads it owes (the /metrics gauge) until they are answered', async () => {
    const database = t.app.database
    const read = database.readOffThread as NonNullable<typeof database.readOffThread>
    const pendingNow = database.offThreadPending as NonNullable<typeof database.offThreadPending>
    const reads = [1, 2, 3].map(() => read([sql`SELECT count(*) AS n FROM tasks`.compile(database.db)]))
    assert.equal(pendingNow(), 3)
    await Promise.all(reads)
    assert.equal(pendingNow(), 0)
  })

  it('keeps the relevance order and the filters it has on the main thread', async () => {
    await createTask(t.app, user, { title: 'Numbat numbat numbat', status: 'done' })
    await createTask(t.app, user, { title: 'Numbat once', description: 'and a numbat', status: 'todo' })
    const all = (await search('numbat')).json() as { items: { title: string }[] }
    assert.deepEqual(
      all.items.map((i) => i.title),
      ['Numbat numbat numbat', 'Numbat once'],
    )
    const todo = await t.app.inject({
      method: 'GET',
      url: '/v1/tasks?q=numbat&status=todo',
      headers: user.auth,
    })
    assert.deepEqual(
      (todo.json() as { items: { title: string }[] }).items.map((i) => i.title),
      ['Numbat once'],
    )
  })
})

describe('SqliteReader when its thread is gone', () => {
  let dir: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tt-reader-'))
  })
  after(() => rmSync(dir, { recursive: true, force: true }))

  it('fails the read with DatabaseUnavailableError, and a later read starts a new thread', async () => {
    const file = join(dir, 'later.db')
    const reader = new SqliteReader(file)
    const query = { sql: 'SELECT 1 AS one', parameters: [], query: undefined } as never
    // The file does not exist yet: the thread cannot open it read-only and exits.
    await assert.rejects(within(reader.read([query]), 'a read on a missing file'), DatabaseUnavailableError)
    assert.equal(reader.pending, 0)
    const { raw } = openSqlite(dir, 'later.db')
    try {
      const [rows] = await within(reader.read([query]), 'a read once the file exists')
      assert.deepEqual(rows, [{ one: 1 }])
    } finally {
      await reader.close()
      raw.close()
    }
    await assert.rejects(reader.read([query]), DatabaseUnavailableError, 'a closed reader refuses reads')
  })
})

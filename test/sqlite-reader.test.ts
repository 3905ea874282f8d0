// Search off the main thread on SQLite (src/db/sqlite-reader.ts), against a real
// database file and a real worker thread: a search is answered while the main
// connection is held by a write transaction, sees only what is committed, sees
// everything acknowledged, cannot write, and fails as an error (not a hang) when
// its thread is gone; with several threads, a search is answered while another
// one runs, and a thread that failed is passed over.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { DatabaseSync } from 'node:sqlite'
import { after, before, describe, it } from 'node:test'
import { CompiledQuery, sql } from 'kysely'
import { runInTransaction } from '../src/db/database.ts'
import { DatabaseBusyError, DatabaseUnavailableError } from '../src/db/errors.ts'
import { openSqlite } from '../src/db/sqlite.ts'
import { SqliteReader, SqliteReaderPool } from '../src/db/sqlite-reader.ts'
import { classifyError } from '../src/http/error-handler.ts'
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

describe('SqliteReader when its thread is gone or its queue is full', () => {
  let dir: string
  let raw: DatabaseSync
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tt-reader-'))
    raw = openSqlite(dir, 'present.db').raw
    raw.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3)')
  })
  after(() => {
    raw.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const query = (text: string) => CompiledQuery.raw(text)
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  it('fails the read with DatabaseUnavailableError, refuses reads for a moment, then starts a new thread', async () => {
    const file = join(dir, 'later.db')
    const reader = new SqliteReader(file, { restartDelayMs: 300 })
    const one = query('SELECT 1 AS one')
    try {
      // The file does not exist yet: the thread cannot open it read-only and exits.
      await assert.rejects(within(reader.read([one]), 'a read on a missing file'), DatabaseUnavailableError)
      assert.equal(reader.pending, 0)
      const { raw: later } = openSqlite(dir, 'later.db')
      try {
        await assert.rejects(
          reader.read([one]),
          DatabaseUnavailableError,
          'no new thread right after a failure',
        )
        await sleep(350)
        const [rows] = await within(reader.read([one]), 'a read once the file exists')
        assert.deepEqual(rows, [{ one: 1 }])
      } finally {
        later.close()
      }
    } finally {
      await reader.close()
    }
    await assert.rejects(reader.read([one]), DatabaseUnavailableError, 'a closed reader refuses reads')
  })

  it('fails the reads of a thread that dies mid-query (out of memory) and goes on with a new one', async () => {
    const reader = new SqliteReader(join(dir, 'present.db'), { restartDelayMs: 0 })
    try {
      // 400k rows of 200 characters: more than the thread's 64 MB heap can hold as objects.
      const huge = query(
        "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 400000) SELECT x, printf('%0200d', x) AS pad FROM c",
      )
      const queued = reader.read([query('SELECT count(*) AS n FROM t')])
      const dying = reader.read([huge])
      const behind = reader.read([query('SELECT count(*) AS n FROM t')])
      assert.deepEqual((await queued)[0], [{ n: 3 }], 'the read before it is answered')
      await assert.rejects(within(dying, 'the read that kills the thread', 60_000), DatabaseUnavailableError)
      await assert.rejects(behind, DatabaseUnavailableError, 'the read queued behind it fails too')
      assert.equal(reader.pending, 0)
      const [rows] = await within(
        reader.read([query('SELECT count(*) AS n FROM t')]),
        'a read on a new thread',
      )
      assert.deepEqual(rows, [{ n: 3 }])
    } finally {
      await reader.close()
    }
  })

  it('refuses reads past its queue limit as busy (a 503 with Retry-After), and answers the others', async () => {
    const reader = new SqliteReader(join(dir, 'present.db'), { maxPending: 2 })
    try {
      const first = reader.read([query('SELECT count(*) AS n FROM t')])
      const second = reader.read([query('SELECT count(*) AS n FROM t')])
      const refused = reader.read([query('SELECT count(*) AS n FROM t')])
      await assert.rejects(refused, (e: unknown) => {
        assert.ok(e instanceof DatabaseBusyError)
        const c = classifyError(e)
        assert.equal(c.status, 503)
        assert.equal(c.code, 'SERVICE_UNAVAILABLE')
        assert.equal(c.headers['retry-after'], '1')
        return true
      })
      assert.deepEqual((await first)[0], [{ n: 3 }])
      assert.deepEqual((await second)[0], [{ n: 3 }])
      assert.deepEqual(
        (await reader.read([query('SELECT count(*) AS n FROM t')]))[0],
        [{ n: 3 }],
        'room again',
      )
    } finally {
      await reader.close()
    }
  })

  it('fails the reads still waiting when it is closed', async () => {
    const reader = new SqliteReader(join(dir, 'present.db'))
    const waiting = [1, 2, 3].map(() =>
      reader.read([
        query(
          'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 300000) SELECT sum(x) FROM c',
        ),
      ]),
    )
    const settled = Promise.allSettled(waiting)
    await reader.close()
    const outcomes = await settled
    assert.ok(
      outcomes.some((o) => o.status === 'rejected' && o.reason instanceof DatabaseUnavailableError),
      'at least the last read was still waiting and failed',
    )
    assert.equal(reader.pending, 0)
  })

  it('does not keep an idle process alive after a search', async () => {
    // A child process that reads once and then has nothing to do must exit by itself.
    const script = `
      import { CompiledQuery } from ${JSON.stringify(import.meta.resolve('kysely'))}
      import { SqliteReader } from ${JSON.stringify(new URL('../src/db/sqlite-reader.ts', import.meta.url).href)}
      const reader = new SqliteReader(${JSON.stringify(join(dir, 'present.db'))})
      const [rows] = await reader.read([CompiledQuery.raw('SELECT count(*) AS n FROM t')])
      console.log(JSON.stringify(rows))
    `
    const entry = join(dir, 'reads-once.mjs')
    writeFileSync(entry, script)
    const child = spawnSync(process.execPath, [entry], {
      cwd: new URL('..', import.meta.url),
      encoding: 'utf8',
      timeout: 30_000,
    })
    assert.equal(child.error, undefined, 'the child exited by itself (not killed by the timeout)')
    assert.equal(child.status, 0, child.stderr)
    assert.equal(child.stdout.trim(), '[{"n":3}]', 'the read was answered before the process exited')
  })
})

describe('SqliteReaderPool: searches on several threads', () => {
  let dir: string
  let raw: DatabaseSync
  let file: string
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tt-reader-pool-'))
    const opened = openSqlite(dir, 'present.db')
    raw = opened.raw
    file = opened.file
    raw.exec('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3)')
  })
  after(() => {
    raw.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))
  const count = () => CompiledQuery.raw('SELECT count(*) AS n FROM t')
  /** Sends two reads in the same tick (so the second finds the first waiting) and checks both answers. */
  async function twoAtOnce(pool: SqliteReaderPool, what: string) {
    const both = await within(Promise.all([pool.read([count()]), pool.read([count()])]), what)
    assert.deepEqual(
      both.map(([rows]) => rows),
      [[{ n: 3 }], [{ n: 3 }]],
      what,
    )
  }
  // About two seconds of work for SQLite on this machine, and one row of result.
  const slow = () =>
    CompiledQuery.raw(
      'WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 15000000) SELECT sum(x) AS s FROM c',
    )
  const huge = () =>
    CompiledQuery.raw(
      "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 400000) SELECT x, printf('%0200d', x) AS pad FROM c",
    )

  it('keeps one thread while searches come one at a time, and answers a search on a second thread while another runs', async () => {
    const pool = new SqliteReaderPool(file, { threads: 2 })
    try {
      assert.equal(pool.started, 0, 'no thread before the first search')
      assert.deepEqual((await within(pool.read([count()]), 'a first read'))[0], [{ n: 3 }])
      assert.deepEqual((await within(pool.read([count()]), 'a second read'))[0], [{ n: 3 }])
      assert.equal(pool.started, 1, 'reads one at a time start no second thread')

      const running = pool.read([slow()])
      let slowDone = false
      running.then(
        () => {
          slowDone = true
        },
        () => {},
      )
      const [rows] = await within(pool.read([count()]), 'a read while a slow one runs')
      assert.deepEqual(rows, [{ n: 3 }])
      assert.equal(slowDone, false, 'the short read did not wait for the slow one')
      assert.equal(pool.started, 2)
      assert.equal(pool.pending, 1, 'the slow read is still running')
      assert.deepEqual((await within(running, 'the slow read', 60_000))[0], [{ s: 112500007500000 }])
      assert.equal(pool.pending, 0)
    } finally {
      await pool.close()
    }
  })

  it('bounds the reads waiting over all threads, not per thread', async () => {
    const pool = new SqliteReaderPool(file, { threads: 2, maxPending: 2 })
    try {
      const first = pool.read([count()])
      const second = pool.read([count()])
      await assert.rejects(pool.read([count()]), DatabaseBusyError)
      assert.deepEqual((await first)[0], [{ n: 3 }])
      assert.deepEqual((await second)[0], [{ n: 3 }])
      assert.deepEqual((await pool.read([count()]))[0], [{ n: 3 }], 'room again')
    } finally {
      await pool.close()
    }
  })

  it('passes over a thread that failed a moment ago, and starts it again only when the other is busy', async () => {
    const restartDelayMs = 1500
    const pool = new SqliteReaderPool(file, { threads: 2, restartDelayMs })
    try {
      // The first thread runs out of its 64 MB heap; the read behind it went to the second.
      const dying = pool.read([huge()])
      const beside = pool.read([count()])
      assert.deepEqual((await within(beside, 'the read on the other thread'))[0], [{ n: 3 }])
      await assert.rejects(within(dying, 'the read that kills its thread', 60_000), DatabaseUnavailableError)
      assert.equal(pool.started, 1)
      // Within the restart delay: two reads at once both go to the running thread, the second
      // queued behind the first rather than sent to the failed one (which would refuse it).
      await twoAtOnce(pool, 'two reads at once within the delay')
      assert.equal(pool.started, 1)
      await sleep(restartDelayMs + 100)
      // Past the delay, a read on its own still goes to the running thread ...
      assert.deepEqual((await within(pool.read([count()]), 'a read on its own'))[0], [{ n: 3 }])
      assert.equal(pool.started, 1, 'an idle running thread is preferred to starting the failed one again')
      // ... and a read that arrives while it is busy starts the failed one again.
      await twoAtOnce(pool, 'two reads at once after the delay')
      assert.equal(pool.started, 2)
    } finally {
      await pool.close()
    }
  })

  it('refuses as unavailable when every thread failed a moment ago, and after it is closed', async () => {
    const pool = new SqliteReaderPool(join(dir, 'missing.db'), { threads: 2, restartDelayMs: 60_000 })
    // The file does not exist: each thread that tries to open it read-only exits.
    await assert.rejects(within(pool.read([count()]), 'a read on the first thread'), DatabaseUnavailableError)
    await assert.rejects(
      within(pool.read([count()]), 'a read on the second thread'),
      DatabaseUnavailableError,
    )
    await assert.rejects(within(pool.read([count()]), 'a read with both failed'), DatabaseUnavailableError)
    assert.equal(pool.started, 0)
    await pool.close()
    const open = new SqliteReaderPool(file, { threads: 2 })
    const waiting = open.read([slow()])
    await open.close()
    await assert.rejects(waiting, DatabaseUnavailableError, 'a read still waiting when it closed fails')
    await assert.rejects(open.read([count()]), DatabaseUnavailableError, 'a closed pool refuses reads')
  })

  it('refuses a thread count that is not a positive integer', () => {
    for (const threads of [0, -1, 1.5, Number.NaN])
      assert.throws(() => new SqliteReaderPool(file, { threads }), RangeError, String(threads))
  })
})

// Reads that run at once on SQLite (Database.readNow, src/db/sqlite.ts): a task
// read or a listing skips Kysely's queue when no transaction is open on the
// connection, and waits for it when one is, so a reader never sees what a
// write has not committed yet, nor a row it then rolls back. Real database file.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { CompiledQuery } from 'kysely'
import type { Principal } from '../src/auth/scopes.ts'
import { configFrom } from '../src/config.ts'
import { type Database, openDatabase, rowValues, runInTransaction } from '../src/db/database.ts'
import { migrateToLatest } from '../src/db/migrate.ts'
import { ApiError } from '../src/errors.ts'
import { noEventRecorder } from '../src/events/recorder.ts'
import { uuidv7 } from '../src/ids.ts'
import { parseListQuery } from '../src/tasks/list-query.ts'
import type { Task } from '../src/tasks/model.ts'
import { insertTask } from '../src/tasks/repository.ts'
import { TaskService } from '../src/tasks/service.ts'
import { systemClock } from '../src/time.ts'

describe('reads at once on SQLite (readNow)', () => {
  let dir: string
  let database: Database
  let tasks: TaskService
  let principal: Principal

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tt-read-now-'))
    database = openDatabase(configFrom({ DATA_DIR: dir }))
    await migrateToLatest(database)
    tasks = new TaskService({ database, clock: systemClock, events: noEventRecorder, requireIfMatch: false })
    const userId = uuidv7()
    const now = new Date().toISOString()
    await database.db
      .insertInto('users')
      .values({
        id: userId,
        email: 'now@example.com',
        name: 'Now',
        role: 'user',
        created_at: now,
        updated_at: now,
      })
      .execute()
    principal = { userId, role: 'user', scopes: new Set(['tasks:read', 'tasks:write']), via: 'session' }
  })
  after(async () => {
    await database.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const newTask = (title: string): Task => {
    const now = new Date().toISOString()
    return {
      id: uuidv7(),
      title,
      description: '',
      status: 'todo',
      priority: 'normal',
      dueAt: null,
      tags: ['now'],
      ownerId: principal.userId,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
      version: 1,
    }
  }
  const todoList = () => tasks.list(principal, parseListQuery({ status: 'todo' }, principal.userId))

  /** Opens a write transaction that inserts `task` and stays open until the returned end() is called. */
  async function openWrite(task: Task, outcome: 'commit' | 'rollback') {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    const unit = runInTransaction(database, async (trx) => {
      await insertTask(trx, 'sqlite', task)
      await gate
      if (outcome === 'rollback') throw new Error('rolled back on purpose')
    }).catch((error: unknown) => error)
    await new Promise((resolve) => setImmediate(resolve)) // the batch has begun and holds the connection
    return {
      end: async () => {
        release()
        return unit
      },
    }
  }

  it('answers at once, with the rows Kysely would return as values, when no transaction is open', async () => {
    assert.ok(database.readNow, 'the SQLite database offers readNow')
    const task = newTask('committed')
    await runInTransaction(database, (trx) => insertTask(trx, 'sqlite', task))
    const query = CompiledQuery.raw('SELECT id, title FROM tasks WHERE id = ?', [task.id])
    assert.deepEqual(database.readNow(query), [[task.id, 'committed']])
    assert.deepEqual(database.readNow(query), rowValues((await database.db.executeQuery(query)).rows))
    assert.equal((await tasks.get(principal, task.id)).title, 'committed')
  })

  it('declines while a transaction is open on the connection', async () => {
    const write = await openWrite(newTask('in flight'), 'commit')
    const query = CompiledQuery.raw('SELECT count(*) AS n FROM tasks', [])
    const during = database.readNow?.(query)
    await write.end()
    assert.equal(during, undefined, 'a read during the transaction is not run on its connection')
    assert.ok(database.readNow?.(query), 'and runs at once again once it has ended')
  })

  it('a read and a listing asked during a write see it only once committed', async () => {
    const before = await todoList()
    const task = newTask('visible after commit')
    const write = await openWrite(task, 'commit')
    let got: Task | undefined
    let listed: Awaited<ReturnType<typeof todoList>> | undefined
    const get = tasks.get(principal, task.id).then((t) => {
      got = t
    })
    const list = todoList().then((page) => {
      listed = page
    })
    await new Promise((resolve) => setTimeout(resolve, 30))
    const early = { got, listed }
    await write.end()
    await Promise.all([get, list])
    assert.equal(early.got, undefined, 'the read waits for the transaction instead of seeing its row')
    assert.equal(early.listed, undefined, 'so does the listing')
    assert.equal(got?.title, 'visible after commit')
    assert.equal(listed?.total, before.total + 1)
    assert.equal(listed?.items[0]?.id, task.id)
  })

  it('a read and a listing asked during a write that rolls back never see its row', async () => {
    const before = await todoList()
    const task = newTask('never committed')
    const write = await openWrite(task, 'rollback')
    const get = tasks.get(principal, task.id).then(
      () => 'found',
      (error: unknown) => (error instanceof ApiError ? error.code : error),
    )
    const list = todoList()
    const outcome = await write.end()
    assert.ok(outcome instanceof Error, 'the write was rolled back')
    assert.equal(await get, 'NOT_FOUND')
    const page = await list
    assert.equal(page.total, before.total)
    assert.ok(!page.items.some((t) => t.id === task.id))
  })
})

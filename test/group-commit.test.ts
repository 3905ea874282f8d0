// Group commit on SQLite (src/db/group-commit.ts), against a real database
// file: concurrent units share a COMMIT, each stays atomic on its own, nothing
// is acknowledged before the COMMIT, and nobody reads what is not committed.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { sql, type Transaction } from 'kysely'
import { configFrom } from '../src/config.ts'
import { type Database, openDatabase, runInTransaction } from '../src/db/database.ts'
import { GroupCommit } from '../src/db/group-commit.ts'
import { migrateToLatest } from '../src/db/migrate.ts'
import type { Schema } from '../src/db/schema.ts'
import { uuidv7 } from '../src/ids.ts'

describe('group commit (sqlite)', () => {
  let dir: string
  let database: Database
  let writes: GroupCommit
  let owner: string

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'tt-group-commit-'))
    database = openDatabase(configFrom({ DATA_DIR: dir }))
    await migrateToLatest(database)
    writes = new GroupCommit(database.db)
    owner = uuidv7()
    const now = new Date().toISOString()
    await database.db
      .insertInto('users')
      .values({
        id: owner,
        email: 'gc@example.com',
        name: 'GC',
        role: 'user',
        created_at: now,
        updated_at: now,
      })
      .execute()
  })
  after(async () => {
    await database.close()
    rmSync(dir, { recursive: true, force: true })
  })

  const insertTask = (trx: Transaction<Schema>, title: string, ownerId = owner) => {
    const now = new Date().toISOString()
    const id = uuidv7()
    return trx
      .insertInto('tasks')
      .values({
        id,
        owner_id: ownerId,
        title,
        description: '',
        status: 'todo',
        priority: 1,
        tags: '[]',
        created_at: now,
        updated_at: now,
        version: 1,
      })
      .execute()
      .then(() => id)
  }
  const titles = async (prefix: string) =>
    (
      await database.db
        .selectFrom('tasks')
        .select('title')
        .where('title', 'like', `${prefix}%`)
        .orderBy('title')
        .execute()
    ).map((r) => r.title)

  it('commits units that queue up together, in arrival order, each seeing the ones before it', async () => {
    const before = { ...writes.stats }
    const seen: number[] = []
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        writes.run(async (trx) => {
          const { rows } = await sql<{
            n: number
          }>`SELECT count(*) AS n FROM tasks WHERE title LIKE 'order-%'`.execute(trx)
          seen.push(Number(rows[0]?.n))
          await insertTask(trx, `order-${String(i).padStart(2, '0')}`)
          return i
        }),
      ),
    )
    assert.deepEqual(
      results,
      Array.from({ length: 10 }, (_, i) => i),
    )
    assert.deepEqual(
      seen,
      Array.from({ length: 10 }, (_, i) => i),
      'each unit sees every unit before it',
    )
    assert.equal(writes.stats.units - before.units, 10)
    assert.equal(writes.stats.batches - before.batches, 1, 'units queued in the same turn share one COMMIT')
    assert.equal((await titles('order-')).length, 10)
  })

  it('rolls back only the unit that fails; the others in the batch commit', async () => {
    const outcomes = await Promise.allSettled([
      writes.run((trx) => insertTask(trx, 'partial-a')),
      writes.run((trx) => insertTask(trx, 'partial-b')),
      writes.run(async (trx) => {
        await insertTask(trx, 'partial-c')
        throw new Error('unit c fails after writing')
      }),
      writes.run((trx) => insertTask(trx, 'partial-d', 'no-such-user')), // foreign key violation
      writes.run((trx) => insertTask(trx, 'partial-e')),
    ])
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'fulfilled', 'rejected', 'rejected', 'fulfilled'],
    )
    assert.match(String((outcomes[2] as PromiseRejectedResult).reason), /unit c fails/)
    assert.match(String((outcomes[3] as PromiseRejectedResult).reason), /FOREIGN KEY/)
    assert.deepEqual(await titles('partial-'), ['partial-a', 'partial-b', 'partial-e'])
  })

  it('rejects every unit of a batch whose COMMIT fails, and keeps none of their writes', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    // The first unit holds the batch open so the next three queue up and share a COMMIT.
    const first = writes.run(async (trx) => {
      await gate
      return insertTask(trx, 'commitfail-0')
    })
    await new Promise((resolve) => setImmediate(resolve)) // the first batch is open now
    const batch = [
      writes.run((trx) => insertTask(trx, 'commitfail-1')),
      writes.run(async (trx) => {
        // A deferred foreign key is checked at COMMIT: the whole batch's COMMIT fails.
        await sql`PRAGMA defer_foreign_keys = ON`.execute(trx)
        return insertTask(trx, 'commitfail-2', 'no-such-user')
      }),
      writes.run((trx) => insertTask(trx, 'commitfail-3')),
    ]
    release()
    await first
    const outcomes = await Promise.allSettled(batch)
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected', 'rejected'],
    )
    for (const o of outcomes) assert.match(String((o as PromiseRejectedResult).reason), /FOREIGN KEY/)
    assert.deepEqual(await titles('commitfail-'), ['commitfail-0'])
    // The connection is usable again.
    await writes.run((trx) => insertTask(trx, 'commitfail-after'))
    assert.deepEqual(await titles('commitfail-'), ['commitfail-0', 'commitfail-after'])
  })

  it('settles a unit only after its COMMIT, and no reader sees it before then', async () => {
    let release!: () => void
    const gate = new Promise<void>((resolve) => {
      release = resolve
    })
    let acknowledged = false
    const unit = writes
      .run(async (trx) => {
        await insertTask(trx, 'visible-later')
        await gate
      })
      .then(() => {
        acknowledged = true
      })
    await new Promise((resolve) => setImmediate(resolve)) // the batch is open, holding the write
    // A reader asks while the transaction is open: it waits for the connection.
    let readerSaw: string[] | undefined
    const reader = titles('visible-').then((t) => {
      readerSaw = t
    })
    await new Promise((resolve) => setTimeout(resolve, 30))
    const early = { acknowledged, readerSaw }
    release()
    assert.equal(early.acknowledged, false)
    assert.equal(early.readerSaw, undefined, 'the reader waits rather than seeing an uncommitted row')
    await Promise.all([unit, reader])
    assert.equal(acknowledged, true)
    assert.deepEqual(readerSaw, ['visible-later'])
  })

  it('is what runInTransaction uses on SQLite', async () => {
    const opened = database.transact
    assert.ok(opened, 'the SQLite database runs units through group commit')
    const [a, b] = await Promise.all([
      runInTransaction(database, (trx) => insertTask(trx, 'helper-a')),
      runInTransaction(database, (trx) => insertTask(trx, 'helper-b')),
    ])
    assert.ok(a && b)
    assert.deepEqual(await titles('helper-'), ['helper-a', 'helper-b'])
  })
})

// The ARCHITECTURE.md pitfall, reproduced on PostgreSQL: an event with a smaller id that commits
// after a larger one must still reach a reader that already passed the larger id.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { type EventPosition, readEventsAfter, START } from '../src/events/repository.ts'
import { waitFor } from './events-support.ts'
import { buildTestApp, registerAndLogin, type TestApp } from './helpers.ts'

describe('outbox reading order on PostgreSQL', () => {
  let t: TestApp
  let ownerId: string
  before(async () => {
    t = await buildTestApp({}, {}, 'postgres')
    ownerId = (await registerAndLogin(t.app)).id
  })
  after(() => t.close())

  const insert = (c: pg.Client, type: string) =>
    c.query<{ id: string }>(
      `INSERT INTO events (type, task_id, owner_id, payload, created_at)
       VALUES ($1, gen_random_uuid(), $2, '{}', now()) RETURNING id`,
      [type, ownerId],
    )

  it('never skips an event whose smaller id commits late', async () => {
    const early = new pg.Client({ connectionString: t.config.DATABASE_URL })
    const late = new pg.Client({ connectionString: t.config.DATABASE_URL })
    await early.connect()
    await late.connect()
    try {
      // `early` gets its transaction id first; `late` then takes the smaller event id and commits last.
      await early.query('BEGIN')
      await early.query('SELECT pg_current_xact_id()')
      await late.query('BEGIN')
      const small = Number((await insert(late, 'late')).rows[0]!.id)
      const large = Number((await insert(early, 'early')).rows[0]!.id)
      assert.ok(small < large)
      await early.query('COMMIT')

      const db = t.app.database.db
      let position: EventPosition = START
      const seen: number[] = []
      const read = async () => {
        for (const e of await readEventsAfter(db, 'postgres', position, 100)) {
          seen.push(e.id)
          position = { id: e.id, xid: e.xid }
        }
      }
      // Other sessions on the cluster can hold the snapshot xmin back briefly: poll, don't assume.
      await waitFor(async () => (await read(), seen.length > 0), 'the committed event')
      assert.deepEqual(seen, [large], 'the committed event is readable while the other is in flight')
      await late.query('COMMIT')
      await waitFor(async () => (await read(), seen.length > 1), 'the late event')
      assert.deepEqual(seen, [large, small], 'the late commit is not skipped')
      // What the naive "id > last seen" reader would have done:
      const naive = await db.selectFrom('events').select('id').where('id', '>', large).execute()
      assert.equal(naive.length, 0, 'a reader resuming after id N would have missed it')
    } finally {
      await early.end()
      await late.end()
    }
  })
})

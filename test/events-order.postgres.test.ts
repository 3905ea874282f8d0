// The ARCHITECTURE.md pitfall, reproduced on PostgreSQL: an event with a smaller id that commits
// after a larger one must still reach a reader that already passed the larger id.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import {
  currentPosition,
  type EventPosition,
  hasUnreadEvents,
  readEventsAfter,
  START,
} from '../src/events/repository.ts'
import { openSse, waitFor } from './events-support.ts'
import { buildTestApp, createTask, registerAndLogin, type TestApp } from './helpers.ts'

describe('outbox reading order on PostgreSQL', () => {
  let t: TestApp
  let ownerId: string
  before(async () => {
    t = await buildTestApp({ EVENTS_POLL_INTERVAL_MS: 30_000 }, {}, 'postgres')
    ownerId = (await registerAndLogin(t.app)).id
  })
  after(() => t.close())

  const insert = (c: pg.Client, type: string) =>
    c.query<{ id: string }>(
      `INSERT INTO events (type, task_id, owner_id, payload, created_at)
       VALUES ($1, gen_random_uuid(), $2, '{}', now()) RETURNING id`,
      [type, ownerId],
    )

  /** A client of its own on the app's database. */
  const connected = async () => {
    const c = new pg.Client({ connectionString: t.config.DATABASE_URL })
    await c.connect()
    return c
  }
  /** Opens a transaction on `c` that takes its id now and stays open until committed. */
  const holdTransaction = async (c: pg.Client) => {
    await c.query('BEGIN')
    await c.query('SELECT pg_current_xact_id()')
  }

  it('never skips an event whose smaller id commits late', async () => {
    const early = await connected()
    const late = await connected()
    try {
      // `early` gets its transaction id first; `late` then takes the smaller event id and commits last.
      await holdTransaction(early)
      await late.query('BEGIN')
      const small = Number((await insert(late, 'late')).rows[0]!.id)
      const large = Number((await insert(early, 'early')).rows[0]!.id)
      assert.ok(small < large)
      await early.query('COMMIT')

      const db = t.app.database.db
      let position: EventPosition = START
      const seen: number[] = []
      const readUntil = (count: number) =>
        waitFor(
          async () => {
            for (const e of await readEventsAfter(db, 'postgres', position, 100)) {
              seen.push(e.id)
              position = { id: e.id, xid: e.xid }
            }
            return seen.length >= count
          },
          `${count} events`,
          30_000,
        )
      // Other sessions on the cluster can hold the snapshot xmin back briefly: poll, don't assume.
      await readUntil(1)
      assert.deepEqual(seen, [large], 'the committed event is readable while the other is in flight')
      await late.query('COMMIT')
      await readUntil(2)
      assert.deepEqual(seen, [large, small], 'the late commit is not skipped')
      // What the naive "id > last seen" reader would have done:
      const naive = await db.selectFrom('events').select('id').where('id', '>', large).execute()
      assert.equal(naive.length, 0, 'a reader resuming after id N would have missed it')
    } finally {
      await early.end()
      await late.end()
    }
  })

  it('an event released between a read and the check after it still counts as unread', async () => {
    // A stream reads, then asks whether anything is left to read later. If the older transaction
    // that held an event back ends in between, the read did not return the event and the check's
    // snapshot no longer sees it held back: unless the check counts it, the stream waits for the
    // next notification, which no one sends (seen in CI as a stream 20 s late).
    const db = t.app.database.db
    const position = await currentPosition(db, 'postgres')
    const blocker = await connected()
    const writer = await connected()
    try {
      await holdTransaction(blocker) // older than the event's transaction
      await insert(writer, 'released') // committed, held back behind the blocker
      const types = async (from: EventPosition) =>
        (await readEventsAfter(db, 'postgres', from, 100)).map((e) => e.type)
      assert.ok(!(await types(position)).includes('released'), 'the read misses it')
      assert.ok(await hasUnreadEvents(db, 'postgres', position), 'held back: unread')
      await blocker.query('COMMIT') // released, between the read and the check
      assert.ok(await hasUnreadEvents(db, 'postgres', position), 'released but not yet read: unread')
      // Read it (other sessions on the cluster can hold the snapshot xmin back briefly: poll).
      let at = position
      await waitFor(
        async () => {
          const read = await readEventsAfter(db, 'postgres', at, 100)
          const last = read.at(-1)
          if (last) at = { id: last.id, xid: last.xid }
          return read.some((e) => e.type === 'released')
        },
        'the released event',
        30_000,
      )
      assert.ok(!(await hasUnreadEvents(db, 'postgres', at)), 'all read: none left')
    } finally {
      await blocker.end()
      await writer.end()
    }
  })

  it('a stream gets an event held back by an older open transaction as soon as that one ends', async () => {
    const user = await registerAndLogin(t.app)
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    const client = await openSse(
      `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`,
      user.token,
    )
    const blocker = await connected()
    try {
      await holdTransaction(blocker) // an older transaction, still running
      const task = await createTask(t.app, user) // committed; NOTIFY arrives, but the row is held back
      await new Promise((r) => setTimeout(r, 300))
      assert.equal(client.events.length, 0, 'not readable while an older transaction runs')
      await blocker.query('COMMIT') // no notification for this; the stream must look again by itself
      await waitFor(() => client.events.length > 0, 'the held-back event', 20_000)
      assert.ok(client.events[0]!.data.includes(task.id))
    } finally {
      client.close()
      await blocker.end()
    }
  })
})

// PostgreSQL creates a task in one statement (task, tags, event, deliveries;
// src/events/outbox.ts recordTaskEventWith): every part is there after a 201, each subscribed
// webhook gets one delivery whose id is a UUIDv7 in webhook order and later than any made
// before, a statement that fails in one part leaves nothing, and a create with an Idempotency-Key still commits
// its stored response with the task.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { OutboxRecorder } from '../src/events/outbox.ts'
import { localEventSignal } from '../src/events/signal.ts'
import { uuidv7 } from '../src/ids.ts'
import type { Task } from '../src/tasks/model.ts'
import { postgresInsertTaskCtes } from '../src/tasks/repository.ts'
import { insertWebhooks } from './events-support.ts'
import { buildTestApp, createTask, registerAndLogin, type TestApp, type TestUser } from './helpers.ts'

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

describe('one-statement create (postgres)', () => {
  let t: TestApp
  let user: TestUser
  const webhookIds: string[] = []

  before(async () => {
    t = await buildTestApp({ EVENTS_POLL_INTERVAL_MS: 30_000 }, {}, 'postgres')
    user = await registerAndLogin(t.app)
    // Three subscribers of task.created (one also of others), one of task.updated only, one disabled.
    const specs = [
      { events: ['task.created'], enabled: true },
      { events: ['task.updated', 'task.created'], enabled: true },
      { events: ['task.created'], enabled: true },
      { events: ['task.updated'], enabled: true },
      { events: ['task.created'], enabled: false },
    ]
    const ids = await insertWebhooks(t.app.database.db, user.id, specs)
    webhookIds.push(...ids.filter((_, i) => specs[i]?.enabled && specs[i]?.events.includes('task.created')))
    webhookIds.sort()
  })
  after(() => t.close())

  const count = async (table: 'tasks' | 'events' | 'webhook_deliveries') =>
    Number(
      (await sql<{ n: string }>`SELECT count(*) AS n FROM ${sql.table(table)}`.execute(t.app.database.db))
        .rows[0]?.n,
    )

  const deliveriesOf = (eventId: number | string) =>
    sql<{ id: string; webhook_id: string; status: string; attempts: number; event_type: string }>`
      SELECT id::text, webhook_id::text, status, attempts, event_type FROM webhook_deliveries
      WHERE event_id = ${eventId} ORDER BY id`.execute(t.app.database.db)

  it('writes the task, its tags, its event and one delivery per subscribed webhook', async () => {
    const before = uuidv7()
    const task = await createTask(t.app, user, { title: 'One statement', tags: ['alpha', 'beta'] })
    const db = t.app.database.db
    const tags = await sql<{
      tag: string
    }>`SELECT tag FROM task_tags WHERE task_id = ${task.id} ORDER BY tag`.execute(db)
    assert.deepEqual(
      tags.rows.map((r) => r.tag),
      ['alpha', 'beta'],
    )
    const events = await sql<{ id: string; type: string; payload: string }>`
      SELECT id, type, payload FROM events WHERE task_id = ${task.id}`.execute(db)
    assert.equal(events.rows.length, 1)
    assert.equal(events.rows[0]?.type, 'task.created')
    assert.equal(JSON.parse(String(events.rows[0]?.payload)).data.task.title, 'One statement')
    const deliveries = (await deliveriesOf(events.rows[0]?.id as string)).rows
    assert.deepEqual(
      deliveries.map((d) => d.webhook_id),
      webhookIds,
      'enabled subscribers only, in webhook order',
    )
    for (const d of deliveries) {
      assert.match(d.id, UUID_V7)
      assert.ok(d.id > before, 'later than an id made before the create')
      assert.equal(d.status, 'pending')
      assert.equal(d.attempts, 0)
      assert.equal(d.event_type, 'task.created')
    }
  })

  it('gives the deliveries of a later create later ids', async () => {
    const first = await createTask(t.app, user, { title: 'First' })
    const second = await createTask(t.app, user, { title: 'Second' })
    const db = t.app.database.db
    const eventOf = async (taskId: string) =>
      (await sql<{ id: string }>`SELECT id FROM events WHERE task_id = ${taskId}`.execute(db)).rows[0]
        ?.id as string
    const a = (await deliveriesOf(await eventOf(first.id))).rows.map((d) => d.id)
    const b = (await deliveriesOf(await eventOf(second.id))).rows.map((d) => d.id)
    assert.equal(new Set([...a, ...b]).size, a.length + b.length, 'all distinct')
    assert.ok((a.at(-1) as string) < (b[0] as string), 'time-ordered across creates')
  })

  it('leaves nothing behind when a part of the statement fails', async () => {
    const db = t.app.database.db
    const before = await Promise.all([count('tasks'), count('events'), count('webhook_deliveries')])
    const recorder = new OutboxRecorder({
      engine: 'postgres',
      clock: () => new Date(),
      signal: localEventSignal(),
    })
    const now = new Date().toISOString()
    // An owner that does not exist: the task row breaks its foreign key, at the end of the statement.
    const task: Task = {
      id: uuidv7(),
      ownerId: randomUUID(),
      title: 'Orphan',
      description: '',
      status: 'todo',
      priority: 'normal',
      dueAt: null,
      tags: ['x'],
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
      version: 1,
    }
    await assert.rejects(
      recorder.recordTaskEventWith(db, 'task.created', task, postgresInsertTaskCtes(task)),
      (e: { code?: string }) => e.code === '23503',
    )
    assert.deepEqual(
      await Promise.all([count('tasks'), count('events'), count('webhook_deliveries')]),
      before,
      'no task, no event, no delivery',
    )
  })

  it('answers a create whose last part fails with an error and keeps none of it', async () => {
    const db = t.app.database.db
    // The deliveries are the statement's last part; a trigger makes them fail (this schema only).
    await sql`CREATE FUNCTION refuse_delivery() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN RAISE EXCEPTION 'deliveries refused by the test'; END $$`.execute(db)
    await sql`CREATE TRIGGER refuse_delivery BEFORE INSERT ON webhook_deliveries
      FOR EACH ROW EXECUTE FUNCTION refuse_delivery()`.execute(db)
    try {
      const before = await Promise.all([count('tasks'), count('events'), count('webhook_deliveries')])
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: user.auth,
        payload: { title: 'Never kept', tags: ['x'] },
      })
      assert.equal(res.statusCode, 500)
      assert.doesNotMatch(res.body, /refused by the test/, 'the database error stays out of the body')
      assert.deepEqual(
        await Promise.all([count('tasks'), count('events'), count('webhook_deliveries')]),
        before,
        'no task, no event, no delivery',
      )
    } finally {
      await sql`DROP TRIGGER refuse_delivery ON webhook_deliveries`.execute(db)
      await sql`DROP FUNCTION refuse_delivery()`.execute(db)
    }
  })

  it('still commits an Idempotency-Key response with the task (the transactional path)', async () => {
    const key = `one-statement-${Date.now()}`
    const send = () =>
      t.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...user.auth, 'idempotency-key': key },
        payload: { title: 'Keyed' },
      })
    const first = await send()
    assert.equal(first.statusCode, 201)
    const again = await send()
    assert.equal(again.statusCode, 201)
    assert.equal(again.json().id, first.json().id, 'replayed, not created twice')
    const events = await sql<{
      n: string
    }>`SELECT count(*) AS n FROM events WHERE task_id = ${first.json().id}`.execute(t.app.database.db)
    assert.equal(Number(events.rows[0]?.n), 1)
  })
})

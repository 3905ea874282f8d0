// PostgreSQL changes a task (PATCH, DELETE, restore) in two round trips: it reads the task
// without a lock, then makes the versioned UPDATE, its tag rows, its event and its deliveries
// in one statement (src/tasks/service.ts #changeInOneStatement). These tests run
// the service's own code on a connection with a query log and check what it sent, what it left
// in the database, and what happens when another writer changes the task between the two.
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import { type CompiledQuery, Kysely, type KyselyPlugin, sql } from 'kysely'
import { AuditLog, type AuditRecorder } from '../src/audit/recorder.ts'
import type { Principal } from '../src/auth/scopes.ts'
import { openPostgres, statementName } from '../src/db/postgres.ts'
import type { Schema } from '../src/db/schema.ts'
import { ApiError } from '../src/errors.ts'
import { OutboxRecorder } from '../src/events/outbox.ts'
import { localEventSignal } from '../src/events/signal.ts'
import type { Task } from '../src/tasks/model.ts'
import { TaskService } from '../src/tasks/service.ts'
import { systemClock } from '../src/time.ts'
import { insertWebhooks } from './events-support.ts'
import { buildTestApp, createTask, registerAndLogin, type TestApp, type TestUser } from './helpers.ts'

/** The service's own task code on `db` (PostgreSQL), recording events as the app does. */
function serviceOn(db: Kysely<Schema>, audit?: AuditRecorder): TaskService {
  return new TaskService({
    database: {
      db,
      engine: 'postgres',
      ping: async () => {},
      poolStats: () => undefined,
      close: async () => {},
    },
    clock: systemClock,
    events: new OutboxRecorder({
      engine: 'postgres',
      clock: () => new Date(),
      signal: localEventSignal(),
    }),
    requireIfMatch: false,
    ...(audit ? { audit } : {}),
  })
}

describe('one-statement changes (postgres)', () => {
  let t: TestApp
  let user: TestUser
  let principal: Principal
  let db: Kysely<Schema>
  let service: TaskService
  let statements: CompiledQuery[] = []
  /** Runs once, right after the next plain read of a task (the lock-free read), before the write. */
  let afterRead: (() => Promise<void>) | undefined
  let updatedSubscriber: string

  before(async () => {
    t = await buildTestApp({ EVENTS_POLL_INTERVAL_MS: 30_000 }, {}, 'postgres')
    user = await registerAndLogin(t.app)
    principal = { userId: user.id, role: 'user', scopes: new Set(['tasks:write']), via: 'session' }
    const ids = await insertWebhooks(t.app.database.db, user.id, [
      { events: ['task.updated'], enabled: true },
    ])
    updatedSubscriber = ids[0] as string
    const raceAfterRead: KyselyPlugin = {
      transformQuery: (args) => args.node,
      async transformResult(args) {
        const last = statements.at(-1)?.sql ?? ''
        const hook = afterRead
        if (hook && /^select/i.test(last) && !/for update/i.test(last)) {
          afterRead = undefined
          await hook()
        }
        return args.result
      },
    }
    const { dialect } = openPostgres({
      url: t.config.DATABASE_URL as string,
      // One connection, so the statements it prepared can be read back from pg_prepared_statements.
      poolMax: 1,
      connectTimeoutMs: 2000,
      statementTimeoutMs: 5000,
    })
    db = new Kysely<Schema>({
      dialect,
      plugins: [raceAfterRead],
      log: (event) => {
        if (event.level === 'query') statements.push(event.query)
      },
    })
    service = serviceOn(db)
  })
  after(async () => {
    await db?.destroy()
    await t?.close()
  })
  beforeEach(() => {
    statements = []
    afterRead = undefined
  })

  const other = () => t.app.database.db
  const eventsOf = async (taskId: string) =>
    (
      await sql<{ id: string; type: string; payload: string }>`
        SELECT id::text, type, payload FROM events WHERE task_id = ${taskId} ORDER BY id`.execute(other())
    ).rows
  /** Tag rows with their physical address and writing transaction: a row rewritten gets new ones. */
  const tagsOf = async (taskId: string) =>
    (
      await sql<{ tag: string; ctid: string; xmin: string }>`
        SELECT tag, ctid::text, xmin::text FROM task_tags WHERE task_id = ${taskId} ORDER BY tag`.execute(
        other(),
      )
    ).rows
  const stored = async (taskId: string) => {
    const res = await t.app.inject({
      method: 'GET',
      url: `/v1/tasks/${taskId}`,
      headers: user.auth,
    })
    assert.equal(res.statusCode, 200)
    return res.json() as Task
  }
  /** Another writer's change, on the app's own pool: a new title and a version bump. */
  const changedElsewhere = (taskId: string) => async () => {
    await sql`UPDATE tasks SET title = 'Changed elsewhere', version = version + 1 WHERE id = ${taskId}`.execute(
      other(),
    )
  }

  it('sends a PATCH as the read and one statement, and leaves the task, its tags and its event agreeing', async () => {
    const created = await createTask(t.app, user, { title: 'Before', tags: ['keep', 'drop'] })
    const keptRow = (await tagsOf(created.id)).find((r) => r.tag === 'keep')
    const updated = await service.update(
      principal,
      created.id,
      { title: 'After', priority: 'high', dueAt: '2027-01-01T10:00:00+02:00', tags: ['keep', 'new'] },
      { ifMatch: '"v1"' },
    )
    assert.deepEqual(
      statements.map((s) =>
        s.sql
          .replace(/^\s*\/\*.*?\*\/\s*/, '')
          .split(/\s+/)[0]
          ?.toLowerCase(),
      ),
      ['select', 'with'],
      'no BEGIN, no SELECT … FOR UPDATE, no COMMIT',
    )
    const write = (statements[1] as CompiledQuery).sql
    assert.ok(statementName(write))
    const prepared = await sql<{ name: string }>`
      SELECT name FROM pg_prepared_statements WHERE statement = ${write}`.execute(db)
    assert.equal(prepared.rows.length, 1, 'the write is prepared on the connection that ran it')
    assert.equal(updated.version, 2)
    assert.equal(updated.dueAt, '2027-01-01T08:00:00.000Z')
    assert.deepEqual(updated, await stored(created.id), 'the answer is what a GET reads back')
    const tags = await tagsOf(created.id)
    assert.deepEqual(
      tags.map((r) => r.tag),
      ['keep', 'new'],
    )
    assert.ok(keptRow)
    assert.deepEqual(
      tags.find((r) => r.tag === 'keep'),
      keptRow,
      'a tag kept keeps its row (same ctid and xmin: not deleted and written again)',
    )
    const events = await eventsOf(created.id)
    assert.deepEqual(
      events.map((e) => e.type),
      ['task.created', 'task.updated'],
    )
    assert.deepEqual(
      JSON.parse(events[1]?.payload as string).data.task,
      updated,
      'the event carries the answer',
    )
    const deliveries = await sql<{ webhook_id: string }>`
      SELECT webhook_id::text FROM webhook_deliveries WHERE event_id = ${events[1]?.id}`.execute(other())
    assert.deepEqual(
      deliveries.rows.map((d) => d.webhook_id),
      [updatedSubscriber],
    )
  })

  it('deletes and restores in one statement each, and the listing totals follow', async () => {
    const created = await createTask(t.app, user, { title: 'Deleted and back', tags: ['cycle'] })
    const total = async () => {
      const res = await t.app.inject({
        method: 'GET',
        url: '/v1/tasks?tag=cycle',
        headers: user.auth,
      })
      return (res.json() as { page: { total: number } }).page.total
    }
    assert.equal(await total(), 1)
    await service.softDelete(principal, created.id, {})
    assert.equal(statements.length, 2)
    assert.equal(await total(), 0)
    statements = []
    const restored = await service.restore(principal, created.id, {})
    assert.equal(statements.length, 2)
    assert.equal(restored.version, 3)
    assert.equal(restored.deletedAt, null)
    assert.deepEqual(restored, await stored(created.id))
    assert.equal(await total(), 1)
    assert.deepEqual(
      (await eventsOf(created.id)).map((e) => e.type),
      ['task.created', 'task.deleted', 'task.restored'],
    )
  })

  it('answers 412 with If-Match when another writer changed the task after the read, and writes nothing', async () => {
    const created = await createTask(t.app, user, { title: 'Contested', tags: ['a'] })
    afterRead = changedElsewhere(created.id)
    await assert.rejects(
      service.update(principal, created.id, { title: 'Mine', tags: ['b'] }, { ifMatch: '"v1"' }),
      (e) => e instanceof ApiError && e.code === 'PRECONDITION_FAILED',
    )
    const now = await stored(created.id)
    assert.equal(now.title, 'Changed elsewhere')
    assert.equal(now.version, 2)
    assert.deepEqual(
      (await tagsOf(created.id)).map((r) => r.tag),
      ['a'],
      'tag rows untouched',
    )
    assert.deepEqual(
      (await eventsOf(created.id)).map((e) => e.type),
      ['task.created'],
      'no event for a change that did not happen',
    )
  })

  it('without If-Match, tries again with the task locked and applies the change on top', async () => {
    const created = await createTask(t.app, user, { title: 'Contested', description: 'x' })
    afterRead = changedElsewhere(created.id)
    const updated = await service.update(principal, created.id, { description: 'Mine' }, {})
    assert.equal(updated.title, 'Changed elsewhere', 'the other change is kept')
    assert.equal(updated.description, 'Mine')
    assert.equal(updated.version, 3)
    assert.ok(
      statements.some((s) => /for update/i.test(s.sql)),
      'the second attempt reads the task locked',
    )
    assert.deepEqual(updated, await stored(created.id))
    const events = await eventsOf(created.id)
    assert.deepEqual(
      events.map((e) => e.type),
      ['task.created', 'task.updated'],
      'one event, for the change that happened',
    )
    assert.equal(JSON.parse(events[1]?.payload as string).data.task.version, 3)
  })

  it('refuses a change to a task deleted after the read', async () => {
    const created = await createTask(t.app, user, { title: 'Gone soon' })
    afterRead = async () => {
      await sql`UPDATE tasks SET deleted_at = now(), version = version + 1 WHERE id = ${created.id}`.execute(
        other(),
      )
    }
    await assert.rejects(
      service.update(principal, created.id, { title: 'Too late' }, {}),
      (e) => e instanceof ApiError && e.code === 'NOT_FOUND',
    )
    assert.deepEqual(
      (await eventsOf(created.id)).map((e) => e.type),
      ['task.created'],
    )
  })

  it('clears tags and dueAt in one statement, and the answer is what a GET reads back', async () => {
    const created = await createTask(t.app, user, {
      title: 'Clear me',
      dueAt: '2026-12-24T18:00:00Z',
      tags: ['x', 'y'],
    })
    const updated = await service.update(principal, created.id, { tags: [], dueAt: null }, {})
    assert.equal(statements.length, 2)
    assert.deepEqual(updated.tags, [])
    assert.equal(updated.dueAt, null)
    assert.deepEqual(updated, await stored(created.id))
    assert.deepEqual(await tagsOf(created.id), [])
  })

  it('puts the task as answered in the events of a delete and a restore', async () => {
    const created = await createTask(t.app, user, { title: 'Payloads' })
    await service.softDelete(principal, created.id, {})
    const restored = await service.restore(principal, created.id, {})
    const [, deleted, back] = (await eventsOf(created.id)).map((e) => JSON.parse(e.payload).data.task as Task)
    assert.equal(deleted?.version, 2)
    assert.ok(deleted?.deletedAt, 'the deleted task carries its deletion time')
    assert.equal(deleted?.deletedAt, deleted?.updatedAt)
    assert.deepEqual(back, restored)
  })

  it('with If-Match: *, a change that lost the race is decided again on the task as it is now', async () => {
    const created = await createTask(t.app, user, { title: 'Star', description: 'x' })
    afterRead = changedElsewhere(created.id)
    const updated = await service.update(principal, created.id, { description: 'Mine' }, { ifMatch: '*' })
    assert.equal(updated.title, 'Changed elsewhere')
    assert.equal(updated.description, 'Mine')
    assert.equal(updated.version, 3)
    assert.deepEqual(updated, await stored(created.id))
  })

  it('with If-Match, a task deleted after the read is 404, as for any deleted task', async () => {
    const created = await createTask(t.app, user, { title: 'Deleted under me' })
    afterRead = async () => {
      await sql`UPDATE tasks SET deleted_at = now(), version = version + 1 WHERE id = ${created.id}`.execute(
        other(),
      )
    }
    await assert.rejects(
      service.update(principal, created.id, { title: 'Too late' }, { ifMatch: '"v1"' }),
      (e) => e instanceof ApiError && e.code === 'NOT_FOUND',
    )
  })

  it("writes the audit row of an admin's change to someone else's task with the change", async () => {
    const admin = await registerAndLogin(t.app)
    const adminPrincipal: Principal = {
      userId: admin.id,
      role: 'admin',
      scopes: new Set(['tasks:write']),
      via: 'session',
    }
    const audited = serviceOn(db, new AuditLog(() => new Date()))
    const created = await createTask(t.app, user, { title: 'Not yours' })
    const updated = await audited.update(adminPrincipal, created.id, { status: 'done' }, { ifMatch: '"v1"' })
    assert.equal(updated.version, 2)
    const audit = await sql<{ action: string; actor_id: string }>`
      SELECT action, actor_id::text FROM audit_events WHERE target_id = ${created.id}`.execute(other())
    assert.deepEqual(audit.rows, [{ action: 'task.updated', actor_id: admin.id }])
    assert.deepEqual(
      (await eventsOf(created.id)).map((e) => e.type),
      ['task.created', 'task.updated'],
    )
    assert.deepEqual(updated, await stored(created.id))
  })

  it('runs one prepared write again and again with other kinds of values', async () => {
    const created = await createTask(t.app, user, { title: 'Values', tags: ['x'] })
    // The same columns change each time (dueAt and tags), so each PATCH is the same statement text.
    const patches = [
      { dueAt: '2027-02-03T04:05:06.789Z', tags: ['a'] },
      { dueAt: null, tags: [] },
      { dueAt: '2027-03-04T05:06:07Z', tags: ['b', 'c'] },
      { dueAt: null, tags: ['c'] },
      { dueAt: '2027-05-06T07:08:09+02:00', tags: [] },
      { dueAt: null, tags: ['d', 'e', 'f'] },
    ]
    const texts = new Set<string>()
    for (const patch of patches) {
      statements = []
      const updated = await service.update(principal, created.id, patch, {})
      texts.add((statements[1] as CompiledQuery).sql)
      assert.deepEqual(updated, await stored(created.id))
      assert.deepEqual(
        (await tagsOf(created.id)).map((r) => r.tag),
        updated.tags,
      )
    }
    assert.equal(texts.size, 1, 'one statement text, run six times (past the generic plan switch)')
  })
})

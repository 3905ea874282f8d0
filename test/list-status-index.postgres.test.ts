// PostgreSQL reads a page of one status in creation order through the (status, created_at, id)
// index even when statuses are not spread evenly over time (src/tasks/list-repository.ts
// readsByStatusIndex). The data is the case that went wrong: thousands of new `todo` tasks, not
// yet in the statistics, above old ones of every status. The plan is PostgreSQL's generic plan for the service's own statement,
// as the service runs it (a named prepared statement), with every filter and cursor it carries.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { encodeCursor, parseListQuery, type RawListQuery } from '../src/tasks/list-query.ts'
import { buildTestApp, registerAndLogin, type TestApp, type TestUser } from './helpers.ts'
import { type LoggedListings, loggedListings, planOf } from './list-support.ts'

describe('status listings read the status index (postgres)', () => {
  let t: TestApp
  let user: TestUser
  let listings: LoggedListings
  /** The four newest done tasks, newest first, read with a plain query. */
  const doneNewestFirst: string[] = []

  before(async () => {
    t = await buildTestApp({}, {}, 'postgres')
    user = await registerAndLogin(t.app)
    // 30,000 tasks with their statuses spread evenly, analyzed, then 20,000 newer ones, all
    // todo, that the statistics do not know of yet: a team's tracker after a busy stretch, before
    // autovacuum analyzes the table again (turned off here, so the test does not race it). Bulk
    // loaded with the counting triggers off (this suite reads no count).
    const db = t.app.database.db
    await sql`ALTER TABLE tasks SET (autovacuum_enabled = false)`.execute(db)
    await sql`ALTER TABLE tasks DISABLE TRIGGER USER`.execute(db)
    const load = (from: number, to: number) =>
      sql`INSERT INTO tasks (id, owner_id, title, description, status, priority, due_at, tags, created_at, updated_at, deleted_at, version)
        SELECT gen_random_uuid(), ${user.id}, 'task ' || g, '',
          CASE WHEN g > 30000 THEN 'todo' ELSE (ARRAY['todo', 'doing', 'done'])[1 + g % 3] END, 1, NULL,
          '[]'::jsonb, now() - interval '30 days' + g * interval '1 minute', now(), NULL, 1
        FROM generate_series(${from}::int, ${to}::int) g`.execute(db)
    await load(1, 30_000)
    await sql`ANALYZE tasks`.execute(db)
    await load(30_001, 50_000)
    await sql`ALTER TABLE tasks ENABLE TRIGGER USER`.execute(db)
    const newestDone = await sql<{ id: string }>`SELECT id::text FROM tasks WHERE status = 'done'
      AND deleted_at IS NULL ORDER BY created_at DESC, id DESC LIMIT 4`.execute(db)
    doneNewestFirst.push(...newestDone.rows.map((r) => r.id))
    listings = loggedListings(t, user.id)
  })
  after(async () => {
    await listings?.close()
    await t.close()
  })

  /** The page's rows and the index PostgreSQL's generic plan for the page statement reads. */
  async function pageAndIndex(query: RawListQuery) {
    const { page, statements } = await listings.list(query)
    const statement = statements.at(-1)
    assert.ok(statement)
    const plan = await planOf(t, statement)
    const indexes = [...plan.matchAll(/"Index Name":"([^"]+)"/g)].map((m) => m[1])
    return { page, indexes }
  }

  it('the first page of a status that is all old reads the status index, in creation order', async () => {
    const { page, indexes } = await pageAndIndex({ status: 'done', limit: 4 })
    assert.deepEqual(
      page.items.map((task) => task.id),
      doneNewestFirst,
    )
    assert.ok(indexes.includes('tasks_live_status_created'), `read ${indexes.join(', ')}`)
    assert.ok(!indexes.includes('tasks_live_created'), `read ${indexes.join(', ')}`)
  })

  it('so do pages after a cursor and oldest-first pages', async () => {
    const first = await pageAndIndex({ status: 'done', limit: 2 })
    assert.ok(first.page.next)
    const plan = parseListQuery({ status: 'done', limit: 2 }, user.id)
    const after = await pageAndIndex({ cursor: encodeCursor(plan, first.page.next), limit: 2 })
    assert.deepEqual(
      after.page.items.map((task) => task.id),
      doneNewestFirst.slice(2, 4),
    )
    assert.ok(after.indexes.includes('tasks_live_status_created'), `read ${after.indexes.join(', ')}`)
    const oldestFirst = await pageAndIndex({ status: 'done', sort: 'createdAt', limit: 2 })
    assert.equal(oldestFirst.page.items.length, 2)
    assert.ok(
      oldestFirst.indexes.includes('tasks_live_status_created'),
      `read ${oldestFirst.indexes.join(', ')}`,
    )
  })
})

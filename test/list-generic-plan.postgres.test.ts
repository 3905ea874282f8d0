// PostgreSQL settles on one plan for the common listing statements instead of planning them on
// every run (src/db/database.ts limitSql and offsetSql, the status literals in
// src/tasks/list-repository.ts). A named statement is planned with its values on each of its
// first five runs; after that PostgreSQL keeps one plan for any values when that plan's
// estimated cost is no worse. A bound LIMIT, a bound OFFSET or a bound status range made the
// estimate worse on data of some size, so every run was planned afresh: about 40% of
// PostgreSQL's CPU for a listing. pg_prepared_statements counts which plan each run used.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import type { RawListQuery } from '../src/tasks/list-query.ts'
import { buildTestApp, registerAndLogin, type TestApp, type TestUser } from './helpers.ts'
import { type LoggedListings, loggedListings } from './list-support.ts'

describe('listing statements keep one plan (postgres)', () => {
  let t: TestApp
  let user: TestUser
  let listings: LoggedListings

  before(async () => {
    t = await buildTestApp({}, {}, 'postgres')
    user = await registerAndLogin(t.app)
    // Enough tasks that the planner's estimates decide: 20,000, statuses spread over time,
    // analyzed. Inserted by SQL with the counting triggers on, so the totals are right, 2,000 to a
    // statement: in one statement each row's trigger bumps counter rows that every earlier row
    // of the statement bumped, and those row versions pile up until it ends (20,000 at once took
    // 4.4 s here and ran past the 5 s statement timeout on a busy CI machine).
    const db = t.app.database.db
    for (let from = 1; from <= 20_000; from += 2000)
      await sql`INSERT INTO tasks (id, owner_id, title, description, status, priority, due_at, tags, created_at, updated_at, deleted_at, version)
        SELECT gen_random_uuid(), ${user.id}, 'task ' || g, '', (ARRAY['todo', 'doing', 'done'])[1 + g % 3], g % 4,
          NULL, '[]'::jsonb, now() - interval '30 days' + g * interval '1 minute', now(), NULL, 1
        FROM generate_series(${from}::int, ${from + 1999}::int) g`.execute(db)
    await sql`ANALYZE tasks`.execute(db)
    listings = loggedListings(t, user.id)
  })
  after(async () => {
    await listings?.close()
    await t.close()
  })

  /** Runs `query` eight times on the listings' one connection; the page statement's plan counts. */
  async function plansOf(query: RawListQuery) {
    let text = ''
    for (let run = 0; run < 8; run++) {
      const { page, statements } = await listings.list(query)
      assert.equal(page.items.length, query.limit ?? 20)
      text = statements.at(-1)?.sql ?? ''
    }
    const counted = await sql<{ generic_plans: string; custom_plans: string }>`
      SELECT generic_plans, custom_plans FROM pg_prepared_statements WHERE statement = ${text}`.execute(
      listings.db,
    )
    assert.equal(counted.rows.length, 1, `prepared once on the connection that ran it:\n${text}`)
    const row = counted.rows[0] as { generic_plans: string; custom_plans: string }
    return { generic: Number(row.generic_plans), custom: Number(row.custom_plans), text }
  }

  for (const [name, query] of [
    ['the default listing', {}],
    ['a status', { status: 'done' }],
    ['a status, 50 a page', { status: 'todo', limit: 50 }],
    ['a priority', { priority: 'high' }],
  ] as const) {
    it(`${name}: planned on its first runs only, then one plan for every run`, async () => {
      const { generic, custom, text } = await plansOf(query)
      assert.equal(generic + custom, 8)
      assert.ok(generic >= 3, `${generic} runs on the kept plan, ${custom} planned afresh:\n${text}`)
    })
  }

  it('a page past the first (offset paging) binds its offset, and still answers the right rows', async () => {
    const first = await listings.list({ status: 'done', limit: 4 })
    assert.equal(first.page.total, 6667, 'every third task is done, and the counting triggers counted each')
    const second = await listings.list({ status: 'done', limit: 2, offset: 2 })
    assert.deepEqual(
      second.page.items.map((task) => task.id),
      first.page.items.slice(2, 4).map((task) => task.id),
    )
    const statement = second.statements.at(-1)
    assert.ok(statement)
    assert.ok(statement.parameters.includes(2), 'the offset is a parameter')
    assert.match(statement.sql, /LIMIT 3 OFFSET \$\d+$/)
  })
})

// PostgreSQL answers a listing page and its page.total in one statement (the count rides in
// the page's SELECT list, src/tasks/list-repository.ts compileList): counted by a query log on the
// service's own code, with the totals checked against the rows, and the empty page (which has
// no row to carry the total) counted by itself. A relevance-ordered search reads its matches
// once (ranked and counted in one pass) and is a named, prepared statement like other reads.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { statementName } from '../src/db/postgres.ts'
import type { RawListQuery } from '../src/tasks/list-query.ts'
import { buildTestApp, createTask, registerAndLogin, type TestApp, type TestUser } from './helpers.ts'
import { type LoggedListings, loggedListings, planOf } from './list-support.ts'

describe('one-statement listing (postgres)', () => {
  let t: TestApp
  let user: TestUser
  let listings: LoggedListings

  before(async () => {
    t = await buildTestApp({}, {}, 'postgres')
    user = await registerAndLogin(t.app)
    for (let i = 0; i < 7; i++)
      await createTask(t.app, user, {
        title: `listed ${i}`,
        status: i < 5 ? 'todo' : 'done',
        dueAt: i % 2 === 0 ? '2030-01-01T00:00:00Z' : null,
        tags: ['listed'],
      })
    listings = loggedListings(t, user.id)
  })
  after(async () => {
    await listings?.close()
    await t.close()
  })

  const list = async (query: RawListQuery) => {
    const { page, statements } = await listings.list(query)
    return { page, statements: statements.map((q) => q.sql) }
  }

  for (const [name, query, total] of [
    ['counted filters (counter tables)', { ownerId: 'me', status: 'todo' }, 5],
    ['a due range (COUNT over its index)', { ownerId: 'me', dueBefore: '2031-01-01T00:00:00Z' }, 4],
    ['a tag', { ownerId: 'me', tag: 'listed' }, 7],
    ['full-text search', { ownerId: 'me', q: 'listed' }, 7],
  ] as const) {
    it(`a page of ${name} is one statement, with the total of every match`, async () => {
      const { page, statements } = await list({ ...query, limit: 2 })
      assert.equal(statements.length, 1, statements.join('\n'))
      assert.equal(page.items.length, 2)
      assert.equal(page.total, total)
    })
  }

  it('a page past the end still reports the total, counted by itself', async () => {
    const { page, statements } = await list({ ownerId: 'me', status: 'todo', offset: 50 })
    assert.deepEqual(page.items, [])
    assert.equal(page.total, 5)
    assert.equal(statements.length, 2)
  })

  it('a listing nothing matches reports 0', async () => {
    const { page } = await list({ ownerId: 'me', tag: 'absent' })
    assert.deepEqual(page.items, [])
    assert.equal(page.total, 0)
  })

  it('a relevance-ordered search reads its matches once, in a named statement', async () => {
    const { page, statements } = await listings.list({ ownerId: 'me', q: 'listed', limit: 3 })
    assert.equal(page.total, 7)
    assert.equal(page.items.length, 3)
    assert.equal(statements.length, 1)
    const statement = statements[0] as (typeof statements)[number]
    assert.ok(statementName(statement.sql), 'named, as SELECTs are')
    const prepared = await sql<{ name: string }>`
      SELECT name FROM pg_prepared_statements WHERE statement = ${statement.sql}`.execute(listings.db)
    assert.equal(prepared.rows.length, 1, 'prepared on the connection that ran it')
    // Every scan of the tasks table other than the page's primary-key lookups walks the
    // matches: one pass, where counting in a subquery of its own read them all a second time.
    type PlanNode = Record<string, unknown> & { Plans?: PlanNode[] }
    const matchingScans = (node: PlanNode): number =>
      (node['Relation Name'] === 'tasks' && node['Index Name'] !== 'tasks_pkey' ? 1 : 0) +
      (node.Plans ?? []).reduce((n, child) => n + matchingScans(child), 0)
    const plan = JSON.parse(await planOf(t, statement)) as { Plan: PlanNode }[]
    assert.equal(matchingScans((plan[0] as { Plan: PlanNode }).Plan), 1, JSON.stringify(plan))
  })
})

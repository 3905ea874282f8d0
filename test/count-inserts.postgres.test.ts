// PostgreSQL's counting triggers take a short path for new tasks (migration 0007): whatever a
// new row looks like (no tags, several tags, already deleted, any owner, several rows in one
// statement), the counter tables must hold exactly what a recount of the tasks finds, for
// every scope (each owner and '*') and every key, once the slots are summed.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { uuidv7 } from '../src/ids.ts'
import { buildTestApp, registerAndLogin, type TestApp } from './helpers.ts'

describe('counting new tasks (postgres)', () => {
  let t: TestApp
  const owners: string[] = []

  before(async () => {
    t = await buildTestApp({}, {}, 'postgres')
    for (let i = 0; i < 3; i++) owners.push((await registerAndLogin(t.app)).id)
  })
  after(() => t.close())

  /** The counters summed over slots, and a recount of the tasks, as sorted lines. */
  async function countersAndRecount(): Promise<{ counters: string[]; recount: string[] }> {
    const db = t.app.database.db
    const lines = (rows: Record<string, unknown>[]) =>
      rows.map((r) => Object.values(r).map(String).join(' ')).sort()
    const counters = await sql<Record<string, unknown>>`
      SELECT 'task' AS kind, '' AS tag, scope, deleted, status, priority, sum(n)::int AS n
        FROM task_counts GROUP BY scope, deleted, status, priority HAVING sum(n) <> 0
      UNION ALL
      SELECT 'tag', tag, scope, deleted, status, priority, sum(n)::int
        FROM task_tag_counts GROUP BY tag, scope, deleted, status, priority HAVING sum(n) <> 0`.execute(db)
    const recount = await sql<Record<string, unknown>>`
      WITH scoped AS (
        SELECT t.*, s.scope FROM tasks t, LATERAL (VALUES (t.owner_id::text), ('*')) AS s(scope)
      )
      SELECT 'task' AS kind, '' AS tag, scope, (deleted_at IS NOT NULL)::int AS deleted, status, priority,
          count(*)::int AS n
        FROM scoped GROUP BY scope, 4, status, priority
      UNION ALL
      SELECT 'tag', j.tag, scope, (deleted_at IS NOT NULL)::int, status, priority, count(*)::int
        FROM scoped, jsonb_array_elements_text(scoped.tags) AS j(tag)
        GROUP BY j.tag, scope, 4, status, priority`.execute(db)
    return { counters: lines(counters.rows), recount: lines(recount.rows) }
  }

  it('counts every kind of new row exactly once per scope and key', async () => {
    const db = t.app.database.db
    const now = new Date().toISOString()
    const row = (owner: string, i: number, tags: string[], deleted: boolean) =>
      sql`(${uuidv7()}, ${owner}, ${`row ${i}`}, '', ${['todo', 'doing', 'done'][i % 3]}, ${i % 4}, NULL,
        ${JSON.stringify(tags)}, ${now}, ${now}, ${deleted ? now : null}, 1)`
    const insert = (rows: ReturnType<typeof row>[]) =>
      sql`
      INSERT INTO tasks (id, owner_id, title, description, status, priority, due_at, tags, created_at,
        updated_at, deleted_at, version) VALUES ${sql.join(rows)}`.execute(db)
    // One row per statement, of every shape…
    let i = 0
    for (const owner of owners)
      for (const tags of [[], ['red'], ['red', 'blue', 'green']])
        for (const deleted of [false, true]) await insert([row(owner, i++, tags, deleted)])
    // …and many rows in one statement, sharing counter rows.
    await insert(
      owners.flatMap((owner) => [0, 1, 2, 3].map((k) => row(owner, i++, k % 2 ? ['blue'] : [], k === 3))),
    )
    const { counters, recount } = await countersAndRecount()
    assert.ok(recount.length > 20, 'the recount covers many keys')
    assert.deepEqual(counters, recount)
  })

  it('still counts changes and deletions of those rows through the general path', async () => {
    const db = t.app.database.db
    await sql`UPDATE tasks SET status = 'done', tags = '["blue"]'::jsonb WHERE title LIKE 'row 1%'`.execute(
      db,
    )
    await sql`UPDATE tasks SET deleted_at = NULL WHERE title LIKE 'row 2%'`.execute(db)
    await sql`DELETE FROM tasks WHERE title LIKE 'row 3%'`.execute(db)
    const { counters, recount } = await countersAndRecount()
    assert.deepEqual(counters, recount)
  })
})

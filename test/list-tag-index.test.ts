// A page of one tag in creation order reads the tag's rows from the index on task_tags (tag,
// created_at, task_id) (migration 0006; src/tasks/list-repository.ts readsByTagIndex) instead of
// walking every task in creation order: the plan of the service's own statement on each engine,
// pages and cursors that match the plain answer, tags kept right through PATCH and delete, and the
// upgrade of a database whose tag rows predate the column.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { type CompiledQuery, type Kysely, sql } from 'kysely'
import { configFrom } from '../src/config.ts'
import { type Database, openDatabase } from '../src/db/database.ts'
import { migrateToLatest, migrateUpTo } from '../src/db/migrate.ts'
import { uuidv7 } from '../src/ids.ts'
import { parseListQuery, type RawListQuery } from '../src/tasks/list-query.ts'
import { listTasks } from '../src/tasks/list-repository.ts'
import {
  buildTestApp,
  createTask,
  freshPostgresSchema,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'
import { loggedListings, planOf } from './list-support.ts'

interface ListBody {
  items: { id: string; tags: string[] }[]
  page: { total: number; nextCursor: string | null }
}

for (const engine of testEngines()) {
  describe(`tag listings read the tag index (${engine})`, () => {
    let t: TestApp
    let me: TestUser
    /** Tasks tagged `rare`, oldest first; newer ones carry other tags. */
    const rare: string[] = []

    before(async () => {
      t = await buildTestApp({}, {}, engine)
      me = await registerAndLogin(t.app)
      for (let i = 0; i < 5; i++)
        rare.push((await createTask(t.app, me, { title: `rare ${i}`, tags: ['rare', `n${i}`] })).id as string)
      for (let i = 0; i < 40; i++) await createTask(t.app, me, { title: `plain ${i}`, tags: ['plain'] })
      if (engine === 'postgres') {
        // PostgreSQL plans by its statistics. 10,000 old tasks tagged `old` under 20,000 newer ones
        // tagged `bulk`, analyzed: `old` is common enough that walking tasks in creation order
        // looks cheap, and that walk would read every `bulk` task first. Bulk loaded with the
        // counting triggers off (no count of these tags is read).
        const db = t.app.database.db
        const load = (tag: string, from: number, to: number, base: string) =>
          sql`INSERT INTO tasks (id, owner_id, title, description, status, priority, due_at, tags, created_at, updated_at, deleted_at, version)
            SELECT gen_random_uuid(), ${me.id}, ${tag} || ' ' || g, '', 'todo', 1, NULL, jsonb_build_array(${tag}::text),
              ${base}::timestamptz + g * interval '1 millisecond', now(), NULL, 1
            FROM generate_series(${from}::int, ${to}::int) g`.execute(db)
        await sql`ALTER TABLE tasks DISABLE TRIGGER USER`.execute(db)
        await load('old', 1, 10_000, '2020-01-01T00:00:00Z')
        await load('bulk', 1, 20_000, '2100-01-01T00:00:00Z')
        await sql`ALTER TABLE tasks ENABLE TRIGGER USER`.execute(db)
        await sql`INSERT INTO task_tags (task_id, tag, created_at)
          SELECT id, tags->>0, created_at FROM tasks WHERE tags->>0 IN ('old', 'bulk')`.execute(db)
        await sql`ANALYZE tasks`.execute(db)
        await sql`ANALYZE task_tags`.execute(db)
      }
    })
    after(() => t.close())

    async function list(query: string): Promise<ListBody> {
      const res = await t.app.inject({ method: 'GET', url: `/v1/tasks?${query}`, headers: me.auth })
      assert.equal(res.statusCode, 200, res.body)
      return res.json() as ListBody
    }

    /** The statement the service runs for a page, captured through a query log on its own code. */
    async function pageStatement(query: RawListQuery): Promise<CompiledQuery> {
      const listings = loggedListings(t, me.id)
      try {
        const statement = (await listings.list(query)).statements.at(-1)
        assert.ok(statement)
        return statement
      } finally {
        await listings.close()
      }
    }

    it('reads the tag index in its order, not every task nor every tagged one', async () => {
      const plan = await planOf(t, await pageStatement({ tag: engine === 'postgres' ? 'old' : 'rare' }))
      assert.match(plan, /task_tags_tag_created/)
      // In the index's order: no walk of the tasks, and no sort of every task the tag has.
      if (engine === 'sqlite') assert.doesNotMatch(plan, /SCAN tasks|TEMP B-TREE/)
      else assert.doesNotMatch(plan, /tasks_live_created|"Node Type":"(Incremental )?Sort"/)
    })

    it('pages newest first and oldest first, through cursors, as the plain answer does', async () => {
      const newest = await list('tag=rare&limit=2')
      assert.deepEqual(
        newest.items.map((i) => i.id),
        [...rare].reverse().slice(0, 2),
      )
      assert.equal(newest.page.total, 5)
      const seen = [...newest.items]
      let cursor = newest.page.nextCursor
      while (cursor) {
        const page = await list(`cursor=${cursor}&limit=2`)
        seen.push(...page.items)
        cursor = page.page.nextCursor
      }
      assert.deepEqual(
        seen.map((i) => i.id),
        [...rare].reverse(),
      )
      const oldest = await list('tag=rare&sort=createdAt&limit=3')
      assert.deepEqual(
        oldest.items.map((i) => i.id),
        rare.slice(0, 3),
      )
      assert.deepEqual((await list('tag=absent')).items, [])
    })

    it('follows tags changed by PATCH, and leaves deleted tasks out', async () => {
      // A PATCH that keeps the tag keeps the task's place: it is ordered by creation, not change.
      const kept = rare[3] as string
      const retag = await t.app.inject({
        method: 'PATCH',
        url: `/v1/tasks/${kept}`,
        headers: { ...me.auth, 'content-type': 'application/json' },
        payload: { tags: ['rare', 'retagged'] },
      })
      assert.equal(retag.statusCode, 200, retag.body)
      assert.deepEqual(
        (await list('tag=rare')).items.map((i) => i.id),
        [...rare].reverse(),
      )
      const [first, second] = rare as [string, string]
      const patch = await t.app.inject({
        method: 'PATCH',
        url: `/v1/tasks/${first}`,
        headers: { ...me.auth, 'content-type': 'application/json' },
        payload: { tags: ['moved'] },
      })
      assert.equal(patch.statusCode, 200, patch.body)
      const del = await t.app.inject({ method: 'DELETE', url: `/v1/tasks/${second}`, headers: me.auth })
      assert.equal(del.statusCode, 204)
      const after = await list('tag=rare')
      assert.deepEqual(
        after.items.map((i) => i.id),
        rare.slice(2).reverse(),
      )
      assert.equal(after.page.total, 3)
      assert.deepEqual(
        (await list('tag=moved')).items.map((i) => i.id),
        [first],
      )
      assert.deepEqual(
        (await list('tag=rare&deleted=only')).items.map((i) => i.id),
        [second],
      )
    })
  })
}

for (const engine of testEngines()) {
  describe(`tag rows upgrade (migration 0006, ${engine})`, () => {
    it('gives the tag rows written before it their task’s creation time', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tt-tag-upgrade-'))
      const pgSchema = engine === 'postgres' ? await freshPostgresSchema() : undefined
      const database: Database = openDatabase(
        configFrom({ DATA_DIR: dir, ...(pgSchema ? { DATABASE_URL: pgSchema.url } : {}) }),
      )
      try {
        await migrateUpTo(database, '0005-search-state')
        const db = database.db as unknown as Kysely<Record<string, Record<string, unknown>>>
        const userId = uuidv7()
        const now = '2026-01-02T03:04:05.678Z'
        await db
          .insertInto('users')
          .values({
            id: userId,
            email: 'old@example.com',
            name: 'Old',
            role: 'user',
            created_at: now,
            updated_at: now,
          })
          .execute()
        // The newer task gets the smaller id, so creation order and id order disagree.
        const [smaller, larger] = [uuidv7(), uuidv7()]
        const ids = [larger, smaller] as string[]
        const created = ['2025-05-01T00:00:00.000Z', '2025-06-01T00:00:00.000Z']
        for (const [i, id] of ids.entries())
          await db
            .insertInto('tasks')
            .values({
              id,
              owner_id: userId,
              title: `old ${i}`,
              description: '',
              status: 'todo',
              priority: 1,
              tags: JSON.stringify(['old']),
              created_at: created[i],
              updated_at: now,
              deleted_at: null,
              version: 1,
            })
            .execute()
        await db
          .insertInto('task_tags')
          .values(ids.map((id) => ({ task_id: id, tag: 'old' })))
          .execute()

        assert.equal((await migrateToLatest(database))[0], '0006-tag-created')
        const tagTimes = await db.selectFrom('task_tags').select(['task_id', 'created_at']).execute()
        assert.deepEqual(
          Object.fromEntries(tagTimes.map((r) => [r.task_id, String(r.created_at)])),
          Object.fromEntries(ids.map((id, i) => [id, created[i]])),
        )
        if (engine === 'postgres') {
          // A writer of the previous version leaves the time out: it is filled in from the task.
          await db.insertInto('task_tags').values({ task_id: smaller, tag: 'later' }).execute()
          const filled = await db
            .selectFrom('task_tags')
            .select('created_at')
            .where('tag', '=', 'later')
            .executeTakeFirstOrThrow()
          assert.equal(String(filled.created_at), created[1])
        } else {
          await assert.rejects(
            db.insertInto('task_tags').values({ task_id: smaller, tag: 'later' }).execute(),
            /NOT NULL/,
          )
        }
        const page = await listTasks(database.db, engine, parseListQuery({ tag: 'old' }, userId), {
          userId,
          seesAllDeleted: false,
        })
        assert.deepEqual(
          page.items.map((task) => task.id),
          [...ids].reverse(),
        )
        assert.deepEqual(
          page.items.map((task) => task.createdAt),
          [...created].reverse(),
        )
      } finally {
        await database.close()
        await pgSchema?.drop()
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
}

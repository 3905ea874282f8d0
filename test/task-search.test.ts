// Full-text search (q) on both engines: what it finds as tasks change, are
// deleted, restored and purged; who sees deleted matches; totals; paging by
// relevance with many equal ranks. On SQLite the default search is answered
// by the index alone (migration 0005), so these pin that the index follows
// every change to the rows.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { configFrom } from '../src/config.ts'
import { openDatabase } from '../src/db/database.ts'
import { migrateUpTo } from '../src/db/migrate.ts'
import { uuidv7 } from '../src/ids.ts'
import { parseListQuery } from '../src/tasks/list-query.ts'
import { listTasks } from '../src/tasks/list-repository.ts'
import { purgeTasksDeletedBefore } from '../src/tasks/repository.ts'
import { twoUsersAndAnAdmin } from './auth-support.ts'
import { buildTestApp, createTask, type TestApp, type TestUser, testEngines } from './helpers.ts'

interface ListBody {
  items: { id: string; title: string }[]
  page: { total: number; nextCursor: string | null }
}

for (const engine of testEngines()) {
  describe(`task search (${engine})`, () => {
    let t: TestApp
    let me: TestUser
    let other: TestUser
    let admin: TestUser
    let n = 0
    /** A word no other test uses, so totals are exact. */
    const fresh = () => `zebu${process.pid}x${++n}`

    before(async () => {
      t = await buildTestApp({}, {}, engine)
      ;({ me, other, admin } = await twoUsersAndAnAdmin(t.app))
    })
    after(() => t.close())

    async function search(query: string, user = me): Promise<ListBody> {
      const res = await t.app.inject({ url: `/v1/tasks?${query}`, headers: user.auth })
      assert.equal(res.statusCode, 200, `${query}: ${res.body}`)
      return res.json() as ListBody
    }
    const ids = (body: ListBody) => body.items.map((i) => i.id).sort()
    async function send(user: TestUser, method: 'PATCH' | 'DELETE' | 'POST', url: string, payload?: object) {
      const res = await t.app.inject({ method, url, headers: user.auth, ...(payload ? { payload } : {}) })
      assert.ok(res.statusCode < 300, `${method} ${url}: ${res.statusCode} ${res.body}`)
    }

    it('follows title and description changes; a status change keeps the task findable', async () => {
      const before = fresh()
      const afterWord = fresh()
      const task = await createTask(t.app, me, { title: `Plan ${before}`, description: 'first draft' })
      assert.deepEqual(ids(await search(`q=${before}`)), [task.id])

      await send(me, 'PATCH', `/v1/tasks/${task.id}`, { title: 'Plan the offsite' })
      assert.equal((await search(`q=${before}`)).page.total, 0)
      await send(me, 'PATCH', `/v1/tasks/${task.id}`, { description: `now about ${afterWord}` })
      assert.deepEqual(ids(await search(`q=${afterWord}`)), [task.id])
      await send(me, 'PATCH', `/v1/tasks/${task.id}`, { status: 'done', tags: ['x'] })
      const found = await search(`q=${afterWord}`)
      assert.deepEqual(ids(found), [task.id])
      assert.equal(found.page.total, 1)
    })

    it('leaves deleted tasks out by default and brings them back on restore; purged ones are gone', async () => {
      const word = fresh()
      const kept = await createTask(t.app, me, { title: `Keep ${word}` })
      const gone = await createTask(t.app, me, { title: `Drop ${word}` })
      const others = await createTask(t.app, other, { title: `Theirs ${word}` })
      await send(me, 'DELETE', `/v1/tasks/${gone.id}`)
      await send(other, 'DELETE', `/v1/tasks/${others.id}`)

      const live = await search(`q=${word}`)
      assert.deepEqual(ids(live), [kept.id])
      assert.equal(live.page.total, 1)
      // A member sees their own deleted matches, never someone else's.
      const only = await search(`q=${word}&deleted=only`)
      assert.deepEqual(ids(only), [gone.id])
      assert.equal(only.page.total, 1)
      const include = await search(`q=${word}&deleted=include`)
      assert.deepEqual(ids(include), [kept.id, gone.id].sort())
      assert.equal(include.page.total, 2)
      // An admin sees every deleted match.
      const adminOnly = await search(`q=${word}&deleted=only`, admin)
      assert.deepEqual(ids(adminOnly), [gone.id, others.id].sort())
      assert.equal(adminOnly.page.total, 2)
      const adminAll = await search(`q=${word}&deleted=include`, admin)
      assert.equal(adminAll.page.total, 3)

      await send(me, 'POST', `/v1/tasks/${gone.id}/restore`)
      assert.deepEqual(ids(await search(`q=${word}`)), [kept.id, gone.id].sort())
      assert.equal((await search(`q=${word}&deleted=only`, admin)).page.total, 1)

      await purgeTasksDeletedBefore(t.app.database.db, new Date(Date.now() + 60_000).toISOString(), 1000)
      const afterPurge = await search(`q=${word}&deleted=include`, admin)
      assert.deepEqual(ids(afterPurge), [kept.id, gone.id].sort())
      assert.equal(afterPurge.page.total, 2)
    })

    it('matches words in title and description only, never the bookkeeping behind them', async () => {
      const word = fresh()
      await createTask(t.app, me, { title: `Alive ${word}` })
      // "live", "deleted" and "state" are how the SQLite index marks rows; as search words they
      // match only tasks that say them.
      for (const q of ['live', 'deleted', 'state', 'del', 'li']) {
        const body = await search(`q=${q}&limit=100`)
        for (const item of body.items) assert.match(item.title.toLowerCase(), new RegExp(q), q)
      }
      assert.equal((await search(`q=state ${word}`)).page.total, 0)
    })

    it('finds a word as it was typed in the title: other scripts, case, combining marks, dotted words', async () => {
      // Each title gets a word of its own, so a search finds exactly its task; `q` is a word or
      // words of the title as a user would type them.
      const cases: [title: string, q: string][] = [
        ['हिन्दी परीक्षा', 'हिन्दी'],
        ['हिन्दी परीक्षा', 'परीक्षा'],
        ['İstanbul trip', 'İstanbul'],
        ['ΣΊΣΥΦΟΣ myth', 'ΣΊΣΥΦΟΣ'],
        ['mail bob@example.com now', 'bob@example.com'],
        ['see example.com/path/file.txt', 'example.com'],
        ['Release v1.5 notes', 'release v1.5'],
        ['pi is 3.14159', '3.14'],
        ['version 2.0.1 done', '2.0.1'],
        ['nai\u0308ve plan', 'nai\u0308ve'],
        // Half-typed compounds: the parser gives the whole before its parts, and both are prefixes.
        ['state-of-the-art plan', 'state-of-the-ar'],
        ['see example.com/pathway', 'example.com/pa'],
        // A lexeme holding a quote or a backslash (only a URL path keeps them) is quoted for the tsquery.
        ["see example.com/it's", "example.com/it's"],
        ['see example.com/a\\b', 'example.com/a\\b'],
      ]
      for (const [title, q] of cases) {
        const tag = fresh()
        const task = await createTask(t.app, me, { title: `${title} ${tag}` })
        // The title's word last: the last word of a search matches as a prefix.
        const found = await search(`q=${encodeURIComponent(`${tag} ${q}`)}`)
        assert.deepEqual(ids(found), [task.id], `q=${q} in "${title}"`)
      }
    })

    it('combines q with other filters and with a sort', async () => {
      const word = fresh()
      const a = await createTask(t.app, me, { title: `${word} ${word}`, status: 'doing', tags: ['red'] })
      const b = await createTask(t.app, me, { title: `${word} once`, status: 'todo' })
      const c = await createTask(t.app, other, { title: `${word} theirs`, status: 'doing' })
      assert.deepEqual(ids(await search(`q=${word}&status=doing`)), [a.id, c.id].sort())
      assert.deepEqual(ids(await search(`q=${word}&ownerId=me`)), [a.id, b.id].sort())
      assert.deepEqual(ids(await search(`q=${word}&tag=red`)), [a.id])
      const filtered = await search(`q=${word}&status=doing,todo&ownerId=me`)
      assert.equal(filtered.page.total, 2)
      assert.equal(filtered.items[0]?.id, a.id, 'best match first with filters too')
      const sorted = await search(`q=${word}&sort=createdAt`)
      assert.deepEqual(
        sorted.items.map((i) => i.id),
        [a.id, b.id, c.id],
      )
    })

    it('pages through many equally ranked matches without overlap or gaps', async () => {
      const word = fresh()
      const created = new Set<string>()
      for (let i = 0; i < 13; i++) created.add((await createTask(t.app, other, { title: `Same ${word}` })).id)
      const seen: string[] = []
      let body = await search(`q=${word}&limit=4`)
      assert.equal(body.page.total, 13)
      seen.push(...body.items.map((i) => i.id))
      while (body.page.nextCursor) {
        body = await search(`cursor=${body.page.nextCursor}&limit=4`)
        seen.push(...body.items.map((i) => i.id))
      }
      assert.equal(seen.length, 13)
      assert.deepEqual(new Set(seen), created)
      // The same query twice gives the same order.
      const again = await search(`q=${word}&limit=13`)
      assert.deepEqual(
        again.items.map((i) => i.id),
        seen,
      )
    })
  })
}

describe('search index upgrade (migration 0005, sqlite)', () => {
  it('indexes the tasks that existed before it, deleted ones marked as such', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tt-search-upgrade-'))
    const database = openDatabase(configFrom({ DATA_DIR: dir }))
    try {
      await migrateUpTo(database, '0004-events')
      const now = new Date().toISOString()
      const user = {
        id: uuidv7(),
        email: 'old@example.com',
        name: 'Old',
        role: 'user' as const,
        created_at: now,
        updated_at: now,
      }
      await database.db.insertInto('users').values(user).execute()
      const row = (title: string, deleted: boolean) => ({
        id: uuidv7(),
        owner_id: user.id,
        title,
        description: 'written before the upgrade',
        status: 'todo' as const,
        priority: 1,
        tags: '[]',
        created_at: now,
        updated_at: now,
        deleted_at: deleted ? now : null,
        version: 1,
      })
      const live = row('Wombat census', false)
      const deleted = row('Wombat feeding', true)
      await database.db.insertInto('tasks').values([live, deleted]).execute()

      assert.deepEqual(await migrateUpTo(database, '0005-search-state'), ['0005-search-state'])
      const plan = (deletedMode: 'exclude' | 'only') =>
        parseListQuery({ q: 'wombat', deleted: deletedMode }, user.id)
      const viewer = { userId: user.id, seesAllDeleted: false }
      const found = await listTasks(database.db, 'sqlite', plan('exclude'), viewer)
      assert.deepEqual(
        found.items.map((i) => i.id),
        [live.id],
      )
      assert.equal(found.total, 1)
      const onlyDeleted = await listTasks(database.db, 'sqlite', plan('only'), viewer)
      assert.deepEqual(
        onlyDeleted.items.map((i) => i.id),
        [deleted.id],
      )
      assert.equal((await listTasks(database.db, 'sqlite', plan('exclude'), viewer)).total, 1)
    } finally {
      await database.close()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})

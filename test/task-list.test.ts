// GET /v1/tasks through inject(): combined filters, sort by rank and nulls-last,
// multi-key sorts, cursor paging over a whole list, totals, Link, full-text search.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  buildTestApp,
  createTask,
  errorOf,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

interface Item {
  id: string
  title: string
  status: string
  priority: string
  dueAt: string | null
  tags: string[]
  createdAt: string
  ownerId: string
}
interface ListBody {
  items: Item[]
  page: { limit: number; offset: number; total: number; nextCursor: string | null }
}

const STATUSES = ['todo', 'doing', 'done']
const PRIORITIES = ['low', 'normal', 'high', 'urgent']
const WORDS = ['apple', 'banana', 'cherry', 'damson', 'elder']
const RANK: Record<string, number> = { low: 0, normal: 1, high: 2, urgent: 3 }

for (const engine of testEngines()) {
  describe(`task listing (${engine})`, () => {
    let t: TestApp
    let me: TestUser
    let other: TestUser
    const mine: Item[] = []

    before(async () => {
      t = await buildTestApp({}, {}, engine)
      ;[me, other] = await Promise.all([registerAndLogin(t.app), registerAndLogin(t.app)])
      // 45 tasks with repeating titles, priorities and due dates, so sorts have ties to break.
      for (let i = 0; i < 45; i++) {
        const task = await createTask(t.app, me, {
          title: WORDS[i % WORDS.length],
          status: STATUSES[i % 3],
          priority: PRIORITIES[i % 4],
          dueAt: i % 3 === 0 ? null : new Date(Date.UTC(2026, 11, 1 + (i % 7))).toISOString(),
          tags: i % 2 === 0 ? ['even'] : ['odd'],
        })
        mine.push(task as unknown as Item)
      }
      await createTask(t.app, other, { title: 'apple', status: 'todo', priority: 'urgent', tags: ['even'] })
    })
    after(() => t.close())

    async function list(query: string, user = me): Promise<ListBody> {
      const res = await t.app.inject({ method: 'GET', url: `/v1/tasks?${query}`, headers: user.auth })
      assert.equal(res.statusCode, 200, res.body)
      return res.json() as ListBody
    }

    async function walk(query: string, limit: number): Promise<Item[]> {
      const seen: Item[] = []
      let page = await list(`${query}&limit=${limit}`)
      for (let n = 0; n < 100; n++) {
        seen.push(...page.items)
        if (!page.page.nextCursor) return seen
        page = await list(`cursor=${page.page.nextCursor}&limit=${limit}`)
      }
      assert.fail('paging did not end')
    }

    it('combines status list, ownerId=me, tag, priority and due range', async () => {
      const body = await list(
        'ownerId=me&status=todo,doing&tag=even&priority=low,high&dueAfter=2026-12-01T00:00:00Z&dueBefore=2026-12-06T00:00:00Z&limit=100',
      )
      const expected = mine.filter(
        (x) =>
          ['todo', 'doing'].includes(x.status) &&
          x.tags.includes('even') &&
          ['low', 'high'].includes(x.priority) &&
          x.dueAt !== null &&
          x.dueAt > '2026-12-01T00:00:00.000Z' &&
          x.dueAt < '2026-12-06T00:00:00.000Z',
      )
      assert.ok(expected.length > 0)
      assert.deepEqual(body.items.map((i) => i.id).sort(), expected.map((x) => x.id).sort())
      assert.equal(body.page.total, expected.length)
    })

    it('counts every match in page.total, not only the page', async () => {
      const body = await list('ownerId=me&limit=5')
      assert.equal(body.items.length, 5)
      assert.equal(body.page.total, 45)
      assert.deepEqual(body.page.limit, 5)
      assert.equal((await list(`ownerId=${other.id}`)).page.total, 1)
      assert.ok((await list('limit=100')).page.total >= 46)
    })

    it('caps limit at 100 and says so in page.limit', async () => {
      assert.equal((await list('limit=1000')).page.limit, 100)
      const defaults = await list('')
      assert.equal(defaults.page.limit, 20)
      assert.equal(defaults.page.offset, 0)
    })

    it('refuses bad paging values with 422 naming the parameter', async () => {
      for (const [query, field] of [
        ['limit=0', 'limit'],
        ['limit=-1', 'limit'],
        ['limit=2.5', 'limit'],
        ['limit=ten', 'limit'],
        ['offset=-3', 'offset'],
        ['offset=99999999999999999999', 'offset'],
        ['status=open', 'status'],
        ['sort=size', 'sort'],
        ['deleted=all', 'deleted'],
        ['dueBefore=monday', 'dueBefore'],
        ['ownerId=bob', 'ownerId'],
        ['colour=red', 'colour'],
      ]) {
        const res = await t.app.inject({ method: 'GET', url: `/v1/tasks?${query}`, headers: me.auth })
        assert.equal(res.statusCode, 422, query)
        assert.deepEqual(
          errorOf(res).details?.map((d) => d.field),
          [field],
          query,
        )
      }
    })

    it('sorts priority by rank, not alphabetically', async () => {
      const asc = (await list('ownerId=me&sort=priority&limit=100')).items.map((i) => RANK[i.priority] ?? -1)
      assert.deepEqual(
        asc,
        [...asc].sort((a, b) => a - b),
      )
      assert.equal(asc[0], 0)
      const desc = (await list('ownerId=me&sort=-priority&limit=100')).items.map((i) => i.priority)
      assert.equal(desc[0], 'urgent')
      assert.equal(desc[desc.length - 1], 'low')
    })

    it('puts tasks without dueAt last in both directions', async () => {
      for (const sort of ['dueAt', '-dueAt']) {
        const items = (await list(`ownerId=me&sort=${sort}&limit=100`)).items
        const firstNull = items.findIndex((i) => i.dueAt === null)
        assert.equal(firstNull, 30, sort)
        assert.ok(
          items.slice(firstNull).every((i) => i.dueAt === null),
          sort,
        )
        const dues = items.slice(0, firstNull).map((i) => i.dueAt as string)
        const sorted = [...dues].sort()
        assert.deepEqual(dues, sort === 'dueAt' ? sorted : sorted.reverse(), sort)
      }
    })

    it('sorts by several keys', async () => {
      const items = (await list('ownerId=me&sort=-priority,title,dueAt&limit=100')).items
      for (let i = 1; i < items.length; i++) {
        const a = items[i - 1] as Item
        const b = items[i] as Item
        const pa = RANK[a.priority] ?? 0
        const pb = RANK[b.priority] ?? 0
        assert.ok(pa >= pb, 'priority descending')
        if (pa === pb) assert.ok(a.title <= b.title, 'then title ascending')
      }
    })

    for (const sort of [
      '-createdAt',
      'priority',
      '-priority,title',
      'dueAt',
      '-dueAt,-priority',
      'title,-updatedAt',
    ]) {
      it(`pages through the whole list with sort=${sort} without overlap or gaps`, async () => {
        const whole = (await list(`ownerId=me&sort=${sort}&limit=100`)).items.map((i) => i.id)
        assert.equal(whole.length, 45)
        const paged = (await walk(`ownerId=me&sort=${sort}`, 7)).map((i) => i.id)
        assert.deepEqual(paged, whole)
        assert.equal(new Set(paged).size, 45)
      })
    }

    it('pages with the default sort newest first, and a cursor ignores offset', async () => {
      const paged = await walk('ownerId=me', 10)
      assert.deepEqual(paged.map((i) => i.id).sort(), mine.map((x) => x.id).sort())
      for (let i = 1; i < paged.length; i++)
        assert.ok((paged[i - 1] as Item).createdAt >= (paged[i] as Item).createdAt)
      const first = await list('ownerId=me&limit=10')
      const withOffset = await list(`cursor=${first.page.nextCursor}&limit=10&offset=30`)
      assert.deepEqual(
        withOffset.items.map((i) => i.id),
        paged.slice(10, 20).map((i) => i.id),
      )
    })

    it('supports offset paging without a cursor', async () => {
      const whole = (await list('ownerId=me&sort=title&limit=100')).items.map((i) => i.id)
      const page = await list('ownerId=me&sort=title&limit=10&offset=40')
      assert.deepEqual(
        page.items.map((i) => i.id),
        whole.slice(40),
      )
      assert.equal(page.page.offset, 40)
      assert.equal(page.page.nextCursor, null)
    })

    it('sends Link rel="next" that continues the listing, and none on the last page', async () => {
      const res = await t.app.inject({
        method: 'GET',
        url: '/v1/tasks?ownerId=me&limit=40',
        headers: me.auth,
      })
      const link = String(res.headers.link)
      const match = /^<([^>]+)>; rel="next"$/.exec(link)
      assert.ok(match, link)
      const next = await t.app.inject({ method: 'GET', url: match[1] as string, headers: me.auth })
      assert.equal(next.statusCode, 200)
      const body = next.json() as ListBody
      assert.equal(body.items.length, 5)
      assert.equal(body.page.nextCursor, null)
      assert.equal(next.headers.link, undefined)
    })

    it('refuses a cursor with other filters (422) and a tampered cursor (422)', async () => {
      const first = await list('ownerId=me&status=todo&limit=2')
      const cursor = first.page.nextCursor as string
      for (const query of [
        `cursor=${cursor}&status=done`,
        `cursor=${cursor}&sort=title`,
        `cursor=${cursor.slice(0, -4)}`,
        'cursor=definitely-not-a-cursor',
        `cursor=${Buffer.from(JSON.stringify({ v: 1, f: { deleted: 'exclude' }, s: '-createdAt', p: { after: [{}], id: me.id } })).toString('base64url')}`,
        `cursor=${Buffer.from(JSON.stringify({ v: 1, f: { deleted: 'exclude', ownerId: "' OR 1=1" }, s: null, p: { offset: 0 } })).toString('base64url')}`,
        // A title key PostgreSQL text cannot hold (NUL: a 500 there), and an owner id in upper
        // case (a query's is lower-cased; PostgreSQL then listed the owner's tasks with total 0).
        `cursor=${Buffer.from(JSON.stringify({ v: 1, f: { deleted: 'exclude' }, s: 'title', p: { after: ['abc\u0000def'], id: me.id } })).toString('base64url')}`,
        `cursor=${Buffer.from(JSON.stringify({ v: 1, f: { deleted: 'exclude', ownerId: me.id.toUpperCase() }, s: null, p: { offset: 0 } })).toString('base64url')}`,
        // Offsets past what a query's offset takes: 2^53 and 1e21 reached SQL as floats (a 500).
        ...[2 ** 53, 1e21, 1_000_000_001].map(
          (offset) =>
            `cursor=${Buffer.from(JSON.stringify({ v: 1, f: { deleted: 'exclude', q: 'cafe' }, s: null, p: { offset } })).toString('base64url')}`,
        ),
      ]) {
        const res = await t.app.inject({ method: 'GET', url: `/v1/tasks?${query}`, headers: me.auth })
        assert.equal(res.statusCode, 422, `${query}: ${res.body}`)
        assert.deepEqual(
          errorOf(res).details?.map((d) => d.field),
          ['cursor'],
        )
      }
      const same = await list(`cursor=${cursor}&status=todo&ownerId=me&limit=2`)
      assert.equal(same.items.length, 2)
      const farthest = await list(
        `cursor=${Buffer.from(JSON.stringify({ v: 1, f: { deleted: 'exclude', q: 'cafe' }, s: null, p: { offset: 1_000_000_000 } })).toString('base64url')}`,
      )
      assert.deepEqual(farthest.items, [])
    })

    it('searches title and description with q, best match first, and pages by relevance', async () => {
      const word = `quokka${process.pid}`
      const weak = await createTask(t.app, other, {
        title: 'Animals',
        description: `A long description that mentions the ${word} only once among many other words`,
      })
      const strong = await createTask(t.app, other, { title: `${word} ${word} feeding`, description: word })
      await createTask(t.app, other, { title: 'Unrelated', description: 'nothing to see' })
      const body = await list(`q=${word}`)
      assert.deepEqual(
        body.items.map((i) => i.id),
        [strong.id, weak.id],
      )
      assert.equal(body.page.total, 2)
      const prefix = await list(`q=${word.slice(0, -2)}`)
      assert.equal(prefix.page.total, 2)
      const firstPage = await list(`q=${word}&limit=1`)
      assert.equal(firstPage.items[0]?.id, strong.id)
      const second = await list(`cursor=${firstPage.page.nextCursor}&limit=1`)
      assert.equal(second.items[0]?.id, weak.id)
      assert.equal(second.page.nextCursor, null)
      const sorted = await list(`q=${word}&sort=title`)
      assert.equal(sorted.items[0]?.id, weak.id)
      for (const q of ['"', "' OR 1=1 --", 'AND OR NOT', '*', 'NEAR(a b)', '%', '日本語']) {
        const res = await t.app.inject({
          method: 'GET',
          url: `/v1/tasks?q=${encodeURIComponent(q)}`,
          headers: me.auth,
        })
        assert.equal(res.statusCode, 200, `q=${q}: ${res.body}`)
      }
    })
  })
}

// Cursor paging walks every sort order without overlap or gaps, on both engines
// (guards the keyset condition, including its leading index bound).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  buildTestApp,
  createTask,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

const SORTS = [
  '-createdAt',
  'createdAt',
  'dueAt',
  '-dueAt',
  'priority,-createdAt',
  '-priority',
  'title',
  '-updatedAt',
]

for (const engine of testEngines()) {
  describe(`cursor paging (${engine})`, () => {
    let t: TestApp
    let user: TestUser
    before(async () => {
      t = await buildTestApp({}, {}, engine)
      user = await registerAndLogin(t.app)
      const priorities = ['low', 'normal', 'high', 'urgent']
      const created: string[] = []
      for (let i = 0; i < 23; i++) {
        const task = await createTask(t.app, user, {
          // Repeated titles, priorities and due dates make ties that only the id breaks.
          title: `Task ${i % 5}`,
          priority: priorities[i % 4],
          dueAt: i % 3 === 0 ? null : new Date(Date.UTC(2030, 0, 1 + (i % 4))).toISOString(),
          status: i % 2 === 0 ? 'todo' : 'done',
          tags: i % 3 === 1 ? [] : ['alpha'],
        })
        created.push(task.id)
      }
      // Changed newest first, so update order runs against creation order: a cursor that took one
      // time for the other would skip or repeat tasks.
      for (const [i, id] of [...created.entries()].reverse()) {
        if (i % 2 === 1) continue
        const res = await t.app.inject({
          method: 'PATCH',
          url: `/v1/tasks/${id}`,
          headers: user.auth,
          payload: { description: 'changed' },
        })
        assert.equal(res.statusCode, 200, res.body)
      }
    })
    after(() => t.close())

    async function ids(url: string): Promise<{ ids: string[]; next: string | null; total: number }> {
      const res = await t.app.inject({ method: 'GET', url, headers: user.auth })
      assert.equal(res.statusCode, 200, res.body)
      const body = res.json() as {
        items: { id: string }[]
        page: { nextCursor: string | null; total: number }
      }
      return { ids: body.items.map((i) => i.id), next: body.page.nextCursor, total: body.page.total }
    }

    for (const sort of SORTS) {
      for (const filter of ['', '&status=todo', '&tag=alpha']) {
        it(`pages of 4 sorted by ${sort}${filter} add up to the one-page list`, async () => {
          const all = await ids(`/v1/tasks?limit=100&sort=${sort}${filter}`)
          assert.equal(all.ids.length, all.total)
          const walked: string[] = []
          let page = await ids(`/v1/tasks?limit=4&sort=${sort}${filter}`)
          walked.push(...page.ids)
          while (page.next) {
            page = await ids(`/v1/tasks?limit=4&cursor=${page.next}`)
            walked.push(...page.ids)
          }
          assert.deepEqual(walked, all.ids)
        })
      }
    }
  })
}

// page.total comes from the counter tables for owner/status/priority/deleted/tag filters
// (migration 0003): after creates, changes, deletes, restores and purges it must equal the
// number of tasks the same listing actually returns, for owners, admins-to-be and others.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { purgeTasksDeletedBefore } from '../src/tasks/repository.ts'
import {
  buildTestApp,
  createTask,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

async function listAll(t: TestApp, user: TestUser, query: string): Promise<{ total: number; seen: number }> {
  let url = `/v1/tasks?limit=100&${query}`
  let seen = 0
  let total = -1
  for (;;) {
    const res = await t.app.inject({ url, headers: user.auth })
    assert.equal(res.statusCode, 200, res.body)
    const body = res.json() as { items: unknown[]; page: { total: number; nextCursor: string | null } }
    if (total === -1) total = body.page.total
    seen += body.items.length
    if (!body.page.nextCursor) break
    url = `/v1/tasks?limit=100&cursor=${encodeURIComponent(body.page.nextCursor)}`
  }
  return { total, seen }
}

for (const engine of testEngines())
  describe(`task counts (${engine})`, () => {
    let t: TestApp
    let alice: TestUser
    let bob: TestUser

    before(async () => {
      t = await buildTestApp({}, {}, engine)
      alice = await registerAndLogin(t.app)
      bob = await registerAndLogin(t.app)
      const statuses = ['todo', 'doing', 'done'] as const
      const priorities = ['low', 'normal', 'high', 'urgent'] as const
      const ids: string[] = []
      for (let i = 0; i < 14; i++) {
        const owner = i % 3 === 0 ? bob : alice
        const task = await createTask(t.app, owner, {
          title: `count ${i}`,
          status: statuses[i % 3],
          priority: priorities[i % 4],
          tags: i % 3 === 0 ? ['red', 'blue'] : i % 2 === 0 ? ['red'] : [],
        })
        ids.push(task.id)
      }
      // Changes that move tasks between counters: status, priority, delete, restore.
      const patch = (id: string, user: TestUser, payload: Record<string, unknown>) =>
        t.app.inject({ method: 'PATCH', url: `/v1/tasks/${id}`, headers: user.auth, payload })
      assert.equal((await patch(ids[1]!, alice, { status: 'done', priority: 'urgent' })).statusCode, 200)
      assert.equal((await patch(ids[2]!, alice, { title: 'only the title' })).statusCode, 200)
      assert.equal((await patch(ids[8]!, alice, { tags: ['blue', 'green'] })).statusCode, 200)
      assert.equal((await patch(ids[10]!, alice, { tags: [] })).statusCode, 200)
      for (const [i, user] of [
        [4, alice],
        [5, alice],
        [6, bob],
        [7, alice],
      ] as const) {
        const res = await t.app.inject({ method: 'DELETE', url: `/v1/tasks/${ids[i]}`, headers: user.auth })
        assert.equal(res.statusCode, 204)
      }
      const restored = await t.app.inject({
        method: 'POST',
        url: `/v1/tasks/${ids[5]}/restore`,
        headers: alice.auth,
      })
      assert.equal(restored.statusCode, 200)
    })
    after(() => t.close())

    const queries = [
      '',
      'status=todo',
      'status=done,doing',
      'priority=urgent,low',
      'status=done&priority=urgent',
      'ownerId=me',
      'ownerId=me&status=todo',
      'deleted=only',
      'deleted=include',
      'deleted=include&ownerId=me',
      'deleted=only&status=done',
      'tag=red',
      'tag=blue&status=todo,done',
      'tag=red&ownerId=me',
      'tag=red&deleted=include',
      'tag=blue&deleted=only',
      'tag=green&priority=low,normal,high',
      'tag=nothing',
      'dueBefore=2100-01-01T00:00:00Z',
    ]
    for (const query of queries)
      it(`page.total equals the rows listed for "${query || 'no filter'}"`, async () => {
        for (const user of [alice, bob]) {
          const { total, seen } = await listAll(t, user, query)
          assert.equal(total, seen)
        }
      })

    for (const sort of [
      '-createdAt',
      'createdAt',
      'priority,-createdAt',
      '-priority,title',
      'dueAt',
      '-updatedAt',
    ])
      it(`cursor pages of 3 walk the same rows as one page (sort=${sort})`, async () => {
        const whole = await t.app.inject({ url: `/v1/tasks?limit=100&sort=${sort}`, headers: alice.auth })
        const expected = (whole.json() as { items: { id: string }[] }).items.map((i) => i.id)
        const walked: string[] = []
        let url = `/v1/tasks?limit=3&sort=${sort}`
        for (let n = 0; n < 50; n++) {
          const res = await t.app.inject({ url, headers: alice.auth })
          const body = res.json() as { items: { id: string }[]; page: { nextCursor: string | null } }
          walked.push(...body.items.map((i) => i.id))
          if (!body.page.nextCursor) break
          url = `/v1/tasks?limit=3&cursor=${encodeURIComponent(body.page.nextCursor)}`
        }
        assert.ok(expected.length > 6)
        assert.deepEqual(walked, expected)
      })

    it('counts others’ deleted tasks as invisible and survives the purge', async () => {
      const before = await listAll(t, alice, 'deleted=include')
      const bobsDeleted = await listAll(t, bob, 'deleted=only')
      assert.equal(bobsDeleted.total, 1)
      // Purge everything deleted up to now (hard deletes go through the triggers too).
      const purged = await purgeTasksDeletedBefore(
        t.app.database.db,
        new Date(Date.now() + 1000).toISOString(),
        100,
      )
      assert.equal(purged, 3)
      const afterPurge = await listAll(t, alice, 'deleted=include')
      assert.equal(afterPurge.total, before.total - 2)
      assert.equal(afterPurge.total, afterPurge.seen)
      assert.equal((await listAll(t, bob, 'deleted=only')).total, 0)
    })
  })

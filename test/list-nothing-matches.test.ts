// A listing nothing matches answers from its count alone where the count runs first (SQLite):
// the page query over a filter no index leads with in creation order (a priority, a due range)
// would walk every task to find none. PostgreSQL reads count and page in one statement.
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
import { type LoggedListings, loggedListings } from './list-support.ts'

for (const engine of testEngines()) {
  describe(`a listing nothing matches (${engine})`, () => {
    let t: TestApp
    let me: TestUser
    let listings: LoggedListings

    before(async () => {
      t = await buildTestApp({}, {}, engine)
      me = await registerAndLogin(t.app)
      for (let i = 0; i < 5; i++)
        await createTask(t.app, me, { title: `task ${i}`, priority: 'normal', dueAt: '2030-01-01T00:00:00Z' })
      listings = loggedListings(t, me.id)
    })
    after(async () => {
      await listings?.close()
      await t.close()
    })

    for (const [name, query] of [
      ['a priority no task has (counted)', { priority: 'urgent' }],
      ['a due range no task is in (COUNT over its index)', { dueBefore: '2020-01-01T00:00:00Z' }],
    ] as const) {
      it(`${name}: an empty page, total 0${engine === 'sqlite' ? ', and no page query' : ''}`, async () => {
        const { page, statements } = await listings.list(query)
        assert.deepEqual(page.items, [])
        assert.equal(page.total, 0)
        if (engine === 'sqlite') assert.equal(statements.length, 1, statements.map((s) => s.sql).join('\n'))
      })
    }

    it('a listing with matches still reads its page', async () => {
      const { page } = await listings.list({ priority: 'normal' })
      assert.equal(page.items.length, 5)
      assert.equal(page.total, 5)
    })
  })
}

// A change reaches every subscribed webhook however many there are: the fan-out rows are
// written in batches, so thousands of subscribers do not exceed an engine's limit on the
// parameters of one statement (32,766 on SQLite, 65,535 on PostgreSQL), which failed the change.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { insertWebhooks } from './events-support.ts'
import {
  buildTestApp,
  createTask,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

const SUBSCRIBERS = 8000

for (const engine of testEngines()) {
  describe(`webhook fan-out to ${SUBSCRIBERS} subscribers (${engine})`, () => {
    let t: TestApp
    let user: TestUser

    before(async () => {
      t = await buildTestApp({ EVENTS_POLL_INTERVAL_MS: 30_000 }, {}, engine)
      user = await registerAndLogin(t.app)
      // Inserted straight into the table: the API caps webhooks per account.
      await insertWebhooks(
        t.app.database.db,
        user.id,
        Array.from({ length: SUBSCRIBERS }, () => ({ events: ['task.created', 'task.updated'] })),
      )
    })
    after(() => t.close())

    const deliveriesFor = async (taskId: string, type: string) =>
      Number(
        (
          await sql<{ n: string | number }>`
            SELECT count(*) AS n FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
            WHERE e.task_id = ${taskId} AND e.type = ${type}`.execute(t.app.database.db)
        ).rows[0]?.n,
      )

    it('creates, updates and answers with one delivery per subscriber', async () => {
      const task = await createTask(t.app, user, { title: 'Seen by thousands' })
      assert.equal(await deliveriesFor(task.id, 'task.created'), SUBSCRIBERS)
      const patch = await t.app.inject({
        method: 'PATCH',
        url: `/v1/tasks/${task.id}`,
        headers: { ...user.auth, 'if-match': `"v${task.version}"` },
        payload: { title: 'Still seen by thousands' },
      })
      assert.equal(patch.statusCode, 200, patch.body)
      assert.equal(await deliveriesFor(task.id, 'task.updated'), SUBSCRIBERS)
      const ids = await sql<{ n: string | number }>`
        SELECT count(DISTINCT d.id) AS n FROM webhook_deliveries d JOIN events e ON e.id = d.event_id
        WHERE e.task_id = ${task.id}`.execute(t.app.database.db)
      assert.equal(Number(ids.rows[0]?.n), 2 * SUBSCRIBERS, 'every delivery has its own id')
    })
  })
}

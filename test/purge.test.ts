// The purge job: tasks soft-deleted longer ago than TASK_RETENTION_DAYS (and idempotency
// records past their window) are removed by runOnce(); the rest stay. Runs on every engine.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { claimIdempotencyKey } from '../src/idempotency/repository.ts'
import { startPurgeJob } from '../src/tasks/purge.ts'
import {
  buildTestApp,
  createTask,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

const DAY = 86_400_000

for (const engine of testEngines()) {
  describe(`purge job (${engine})`, () => {
    let t: TestApp
    let user: TestUser
    let now = new Date('2026-06-01T12:00:00.000Z')
    before(async () => {
      t = await buildTestApp({ TASK_RETENTION_DAYS: 30 }, { clock: () => now }, engine)
      user = await registerAndLogin(t.app)
    })
    after(() => t.close())

    it('removes tasks deleted more than the retention ago and keeps the rest', async () => {
      const old = await createTask(t.app, user)
      const recent = await createTask(t.app, user)
      const live = await createTask(t.app, user)
      const del = (id: string) =>
        t.app.inject({ method: 'DELETE', url: `/v1/tasks/${id}`, headers: user.auth })
      assert.equal((await del(old.id)).statusCode, 204)
      now = new Date(now.getTime() + 20 * DAY)
      assert.equal((await del(recent.id)).statusCode, 204)
      now = new Date(now.getTime() + 11 * DAY) // old: deleted 31 days ago; recent: 11 days ago

      // An idempotency record past its window goes too; a current one stays.
      for (const [key, expiresAt] of [
        ['expired', new Date(now.getTime() - DAY)],
        ['current', new Date(now.getTime() + DAY)],
      ] as const) {
        await claimIdempotencyKey(t.app.database.db, {
          userId: user.id,
          key,
          requestHash: 'h',
          now: new Date(expiresAt.getTime() - DAY).toISOString(),
          expiresAt: expiresAt.toISOString(),
        })
      }

      const job = startPurgeJob({
        database: t.app.database,
        clock: () => now,
        retentionDays: 30,
        intervalSeconds: 3600,
        log: t.app.log,
      })
      try {
        const result = await job.runOnce()
        assert.equal(result.tasks, 1)
        assert.equal(result.idempotencyKeys, 1)
        const keys = await t.app.database.db.selectFrom('idempotency_keys').select('key').execute()
        assert.deepEqual(
          keys.map((k) => k.key),
          ['current'],
        )
        assert.equal((await job.runOnce()).tasks, 0, 'a second run finds nothing more')
      } finally {
        await job.stop()
      }
      const restoreOld = await t.app.inject({
        method: 'POST',
        url: `/v1/tasks/${old.id}/restore`,
        headers: user.auth,
      })
      assert.equal(restoreOld.statusCode, 404)
      const deleted = await t.app.inject({ method: 'GET', url: '/v1/tasks?deleted=only', headers: user.auth })
      assert.deepEqual(
        deleted.json().items.map((i: { id: string }) => i.id),
        [recent.id],
      )
      assert.equal(
        (await t.app.inject({ method: 'GET', url: `/v1/tasks/${live.id}`, headers: user.auth })).statusCode,
        200,
      )
      const rows = await t.app.database.db
        .selectFrom('task_tags')
        .select('task_id')
        .where('task_id', '=', old.id)
        .execute()
      assert.equal(rows.length, 0, 'the purged task leaves no tag rows behind')
    })
  })
}

// Several instances dispatching from one database: leases make every delivery attempt happen on
// exactly one instance (FOR UPDATE SKIP LOCKED on PostgreSQL, UPDATE … RETURNING on SQLite).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { buildApp } from '../src/app.ts'
import { configFrom } from '../src/config.ts'
import { startReceiver, waitFor } from './events-support.ts'
import { buildTestApp, createTask, registerAndLogin, testEngines } from './helpers.ts'

const CONFIG = {
  WEBHOOK_ALLOW_PRIVATE: true,
  WEBHOOK_POLL_INTERVAL_MS: 50,
  WEBHOOK_CONCURRENCY: 4,
}

for (const engine of testEngines()) {
  describe(`dispatchers on several instances (${engine})`, () => {
    it('deliver each event once between them', async () => {
      const t = await buildTestApp(CONFIG, { backgroundJobs: true }, engine)
      const config = configFrom({
        ...Object.fromEntries(Object.entries(t.config).filter(([, v]) => v !== undefined)),
      })
      const others = [
        await buildApp(config, { backgroundJobs: true }),
        await buildApp(config, { backgroundJobs: true }),
      ]
      const receiver = await startReceiver()
      try {
        const user = await registerAndLogin(t.app)
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/webhooks',
          headers: user.auth,
          payload: { url: receiver.url, events: ['task.created'] },
        })
        assert.equal(res.statusCode, 201)
        const ids: string[] = []
        for (let i = 0; i < 30; i++) ids.push((await createTask(t.app, user)).id)
        await waitFor(
          () => ids.every((id) => receiver.received.some((d) => d.json.data.task.id === id)),
          'all 30',
        )
        await new Promise((r) => setTimeout(r, 300)) // room for any duplicate to show up
        const perWebhookId = new Map<string, number>()
        for (const d of receiver.received) perWebhookId.set(d.id, (perWebhookId.get(d.id) ?? 0) + 1)
        assert.equal(perWebhookId.size, 30)
        assert.ok(
          [...perWebhookId.values()].every((n) => n === 1),
          'no delivery was attempted twice',
        )
      } finally {
        await Promise.all(others.map((a) => a.close()))
        await receiver.close()
        await t.close()
      }
    })
  })
}

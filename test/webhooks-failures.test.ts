// Webhook deliveries that fail, end to end with real receivers: endpoints disabled after repeated
// failures and manual redelivery, the SSRF check repeated at delivery, retries running out, and
// shutdown interrupting an attempt that outlives its grace period.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { buildApp } from '../src/app.ts'
import { configFrom } from '../src/config.ts'
import { DELIVERY_TEST_CONFIG, startReceiver, waitFor, webhookClient } from './events-support.ts'
import {
  buildTestApp,
  createTask,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

const CONFIG = DELIVERY_TEST_CONFIG

for (const engine of testEngines()) {
  describe(`webhook endpoints that keep failing (${engine})`, () => {
    let t: TestApp
    let user: TestUser
    before(async () => {
      t = await buildTestApp(
        { ...CONFIG, WEBHOOK_DISABLE_AFTER_FAILURES: 3 },
        { backgroundJobs: true },
        engine,
      )
      user = await registerAndLogin(t.app)
    })
    after(() => t.close())

    const { subscribe, deliveries, webhook } = webhookClient(
      () => t.app,
      () => user,
    )

    it('disables an endpoint after the configured consecutive failures and redelivers on request', async () => {
      const receiver = await startReceiver(0, (_req, res) => {
        res.writeHead(500).end()
      })
      try {
        const hook = await subscribe(receiver.url, ['task.created'])
        await createTask(t.app, user)
        const disabled = await waitFor(async () => {
          const w = await webhook(hook.id)
          return w.enabled === false && w
        }, 'disabled after repeated failures')
        assert.match(disabled.disabledReason ?? '', /3 consecutive failed attempts/)
        assert.equal(disabled.consecutiveFailures, 3)
        const [delivery] = await deliveries(hook.id)
        assert.equal(delivery?.status, 'pending')
        assert.equal(delivery?.lastResponseStatus, 500)
        const refused = await t.app.inject({
          method: 'POST',
          url: `/v1/webhooks/${hook.id}/deliveries/${delivery!.id}/redeliver`,
          headers: user.auth,
        })
        assert.equal(refused.statusCode, 409, 'a disabled endpoint must be enabled first')
        receiver.behave((_req, res) => {
          res.writeHead(200).end()
        })
        const enabled = await t.app.inject({
          method: 'PATCH',
          url: `/v1/webhooks/${hook.id}`,
          headers: user.auth,
          payload: { enabled: true },
        })
        assert.equal((enabled.json() as { consecutiveFailures: number }).consecutiveFailures, 0)
        await waitFor(
          async () => (await deliveries(hook.id))[0]?.status === 'succeeded',
          'resumed after enabling',
        )
        const count = receiver.received.length
        const again = await t.app.inject({
          method: 'POST',
          url: `/v1/webhooks/${hook.id}/deliveries/${delivery!.id}/redeliver`,
          headers: user.auth,
        })
        assert.equal(again.statusCode, 202)
        assert.equal((again.json() as { status: string }).status, 'pending')
        await waitFor(() => receiver.received.length > count, 'the manual redelivery')
        assert.equal(receiver.received.at(-1)?.id, delivery!.id, 'redelivery keeps the webhook-id')
      } finally {
        await receiver.close()
      }
    })

    it('refuses to redeliver while an attempt of the delivery is in flight: 409 with Retry-After, one attempt', async () => {
      const answers: Array<() => void> = []
      const receiver = await startReceiver(0, (_req, res) => {
        answers.push(() => res.writeHead(200).end())
      })
      try {
        const hook = await subscribe(receiver.url, ['task.created'])
        await createTask(t.app, user)
        await waitFor(() => receiver.received.length === 1, 'the first attempt reaching the receiver')
        const [delivery] = await deliveries(hook.id)
        const redeliver = () =>
          t.app.inject({
            method: 'POST',
            url: `/v1/webhooks/${hook.id}/deliveries/${delivery!.id}/redeliver`,
            headers: user.auth,
          })
        const refused = await redeliver()
        assert.equal(refused.statusCode, 409, refused.body)
        assert.equal(refused.json().error.code, 'CONFLICT')
        // Until the lease ends (WEBHOOK_LEASE_SECONDS is 5 here).
        const retryAfter = Number(refused.headers['retry-after'])
        assert.ok(retryAfter >= 1 && retryAfter <= 5, `Retry-After ${retryAfter}`)
        await new Promise((resolve) => setTimeout(resolve, 300))
        assert.equal(receiver.received.length, 1, 'no second attempt beside the first')
        for (const answer of answers.splice(0)) answer()
        await waitFor(
          async () => (await deliveries(hook.id))[0]?.status === 'succeeded',
          'the first attempt recorded',
        )
        receiver.behave((_req, res) => {
          res.writeHead(200).end()
        })
        assert.equal((await redeliver()).statusCode, 202, 'once the attempt ended')
        await waitFor(() => receiver.received.length === 2, 'the redelivery')
      } finally {
        for (const answer of answers) answer()
        await receiver.close()
      }
    })
  })

  describe(`delivery-time SSRF check and exhausted retries (${engine})`, () => {
    it('refuses at delivery a target that is no longer allowed, retries per schedule, then fails', async () => {
      // Created where private targets were allowed; delivered by an instance where they are not.
      const t = await buildTestApp({ WEBHOOK_ALLOW_PRIVATE: true }, { backgroundJobs: false }, engine)
      const receiver = await startReceiver()
      const strict = await buildApp(
        configFrom({
          ...Object.fromEntries(Object.entries(t.config).filter(([, v]) => v !== undefined)),
          ...CONFIG,
          WEBHOOK_ALLOW_PRIVATE: false,
          WEBHOOK_RETRY_SCHEDULE: '1,1',
        }),
        { backgroundJobs: true },
      )
      try {
        const user = await registerAndLogin(t.app)
        const created = await t.app.inject({
          method: 'POST',
          url: '/v1/webhooks',
          headers: user.auth,
          payload: { url: receiver.url, events: ['task.created'] },
        })
        const hook = created.json() as { id: string }
        await createTask(t.app, user)
        const list = async () =>
          (
            (
              await t.app.inject({
                method: 'GET',
                url: `/v1/webhooks/${hook.id}/deliveries`,
                headers: user.auth,
              })
            ).json() as {
              items: {
                status: string
                attempts: number
                lastError: string | null
                nextAttemptAt: string | null
              }[]
            }
          ).items
        const [failed] = await waitFor(async () => {
          const items = await list()
          return items[0]?.status === 'failed' && items
        }, 'the delivery failed for good')
        assert.equal(failed?.attempts, 3, 'the first attempt and one per schedule entry')
        assert.match(failed?.lastError ?? '', /target refused/)
        assert.equal(failed?.nextAttemptAt, null)
        assert.equal(receiver.received.length, 0, 'nothing was sent to the private address')
        const endpoint = (
          await t.app.inject({ method: 'GET', url: `/v1/webhooks/${hook.id}`, headers: user.auth })
        ).json() as { consecutiveFailures: number }
        assert.equal(endpoint.consecutiveFailures, 3)
      } finally {
        await strict.close()
        await receiver.close()
        await t.close()
      }
    })

    /**
     * An API instance (no workers) and a worker instance on one database, a webhook whose
     * receiver never answers, and the worker's first attempt in flight to it.
     */
    async function attemptInFlight(workerConfig: Record<string, number>) {
      const t = await buildTestApp({ WEBHOOK_ALLOW_PRIVATE: true }, { backgroundJobs: false }, engine)
      const silent = await startReceiver(0, () => {})
      const worker = await buildApp(
        configFrom({
          ...Object.fromEntries(Object.entries(t.config).filter(([, v]) => v !== undefined)),
          ...CONFIG,
          WEBHOOK_TIMEOUT_MS: 30_000,
          ...workerConfig,
        }),
        { backgroundJobs: true },
      )
      const close = async () => {
        await worker.close()
        await silent.close()
        await t.close()
      }
      try {
        const user = await registerAndLogin(t.app)
        const hook = (
          await t.app.inject({
            method: 'POST',
            url: '/v1/webhooks',
            headers: user.auth,
            payload: { url: silent.url, events: ['task.created'] },
          })
        ).json() as { id: string }
        await createTask(t.app, user)
        await waitFor(() => silent.received.length === 1, 'the attempt in flight')
        const leases = () =>
          t.app.database.db.selectFrom('webhook_deliveries').select(['leased_by', 'attempts']).execute()
        return { t, silent, worker, user, hook, leases, close }
      } catch (error) {
        await close()
        throw error
      }
    }

    it('shutdown interrupts an attempt that outlives the grace period and gives the delivery back', async () => {
      const { t, worker, user, hook, leases, close } = await attemptInFlight({})
      try {
        const started = Date.now()
        await worker.close()
        const took = Date.now() - started
        assert.ok(took >= 2500 && took < 6000, `closed after ${took} ms (grace, then interrupted)`)
        const res = await t.app.inject({
          method: 'GET',
          url: `/v1/webhooks/${hook.id}/deliveries`,
          headers: user.auth,
        })
        const [d] = (res.json() as { items: { status: string; attempts: number }[] }).items
        assert.deepEqual({ status: d?.status, attempts: d?.attempts }, { status: 'pending', attempts: 0 })
        assert.equal((await leases())[0]?.leased_by, null, 'the lease was given back, not left to expire')
      } finally {
        await close()
      }
    })

    it('once shutdown begins, claims no new delivery and interrupts attempts before SHUTDOWN_TIMEOUT_MS', async () => {
      const { t, silent, worker, user, leases, close } = await attemptInFlight({ SHUTDOWN_TIMEOUT_MS: 2000 })
      try {
        const signalled = Date.now()
        worker.beginShutdown()
        // A change committed while the server drains: its delivery waits for another instance.
        await createTask(t.app, user)
        await waitFor(async () => (await leases()).every((d) => d.leased_by === null), 'the lease given back')
        const interruptedAfter = Date.now() - signalled
        assert.ok(
          interruptedAfter >= 1000 && interruptedAfter < 2000,
          `interrupted ${interruptedAfter} ms after the signal, within the 2,000 ms timeout`,
        )
        const started = Date.now()
        await worker.close()
        assert.ok(Date.now() - started < 1000, 'nothing left to wait for at close')
        assert.equal(silent.received.length, 1, 'no attempt started after the signal')
        assert.deepEqual(
          (await leases()).map((d) => d.attempts),
          [0, 0],
          'neither delivery counted an attempt',
        )
      } finally {
        await close()
      }
    })
  })
}

// A webhook attempt that outlives its lease, with two real dispatchers on one database and a real
// receiver: the first instance's attempt hangs, the lease runs out (the second dispatcher's clock
// is a minute ahead), the second instance claims the delivery, attempts it and records a failure.
// When the first attempt's answer finally comes, it must change nothing: the delivery and its
// endpoint are the second instance's to record, so the endpoint is neither counted twice nor
// disabled by an answer that no longer owns the delivery.
import assert from 'node:assert/strict'
import type http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { localEventSignal } from '../src/events/signal.ts'
import { type DispatcherSettings, startDispatcher } from '../src/webhooks/dispatcher.ts'
import { DELIVERY_TEST_CONFIG, startReceiver, waitFor, webhookClient } from './events-support.ts'
import {
  buildTestApp,
  createTask,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

const SETTINGS: DispatcherSettings = {
  // A failed attempt is retried an hour later (by either clock), so nothing attempts it again here.
  schedule: [3_600_000],
  timeoutMs: 10_000,
  leaseSeconds: 1, // the lease is then the timeout plus two seconds: 12 s
  concurrency: 1,
  pollIntervalMs: 50,
  disableAfterFailures: 10,
  allowPrivate: true,
}

for (const engine of testEngines()) {
  describe(`a webhook attempt that outlived its lease (${engine})`, () => {
    let t: TestApp
    let user: TestUser
    before(async () => {
      // No dispatcher of the app's own: the two below are the only ones.
      t = await buildTestApp(DELIVERY_TEST_CONFIG, { backgroundJobs: false }, engine)
    })
    after(() => t.close())

    const { subscribe, deliveries, webhook } = webhookClient(
      () => t.app,
      () => user,
    )

    for (const late of [500, 410]) {
      it(`records nothing from a late ${late} once another instance has taken the delivery over`, async () => {
        user = await registerAndLogin(t.app) // a user of its own: no other case's webhook sees its task
        let held: http.ServerResponse | undefined
        const receiver = await startReceiver(0, (_req, res) => {
          // The first instance's attempt is answered below; the second's at once.
          if (held === undefined) held = res
          else res.writeHead(500).end()
        })
        const dispatcher = (clock: () => Date) =>
          startDispatcher({
            database: t.app.database,
            clock,
            signal: localEventSignal(),
            settings: SETTINGS,
            log: t.app.log,
          })
        const first = dispatcher(() => new Date())
        let second: ReturnType<typeof dispatcher> | undefined
        try {
          const hook = await subscribe(receiver.url, ['task.created'])
          await createTask(t.app, user)
          await waitFor(() => held, "the first instance's attempt")
          second = dispatcher(() => new Date(Date.now() + 60_000)) // sees the first lease run out
          await waitFor(() => receiver.received.length >= 2, "the second instance's attempt")
          const counted = await waitFor(async () => {
            const w = await webhook(hook.id)
            return w.consecutiveFailures > 0 && w
          }, "the second instance's failure to be counted")
          assert.equal(counted.consecutiveFailures, 1)
          await second.stop()

          held?.writeHead(late).end()
          await first.stop() // resolves once the first attempt's outcome has been handled

          const endpoint = await webhook(hook.id)
          assert.equal(endpoint.consecutiveFailures, 1, 'only the attempt under the current lease counts')
          assert.equal(endpoint.enabled, true, 'a 410 without the lease does not disable the endpoint')
          const [delivery] = await deliveries(hook.id)
          assert.equal(delivery?.status, 'pending', 'due again in an hour, as the second instance recorded')
          assert.equal(delivery?.attempts, 1)
          assert.equal(delivery?.lastResponseStatus, 500)
          assert.equal(receiver.received[0]?.id, receiver.received[1]?.id, 'the same webhook-id both times')
        } finally {
          held?.destroy()
          await Promise.all([first.stop(), second?.stop()])
          await receiver.close()
        }
      })
    }
  })
}

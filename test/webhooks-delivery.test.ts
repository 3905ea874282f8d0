// Webhook deliveries end to end: a real receiver on a socket, signatures checked with the test's
// own HMAC, retries while the receiver is down, 3xx/410/Retry-After handling, hostile receivers,
// and no event for a change that rolled back.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { sql } from 'kysely'
import { OutboxRecorder } from '../src/events/outbox.ts'
import { localEventSignal } from '../src/events/signal.ts'
import { TaskService } from '../src/tasks/service.ts'
import { systemClock } from '../src/time.ts'
import {
  DELIVERY_TEST_CONFIG,
  startReceiver,
  verifyStandardWebhook,
  waitFor,
  webhookClient,
} from './events-support.ts'
import {
  aTask,
  buildTestApp,
  createTask,
  patchTask,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

const CONFIG = DELIVERY_TEST_CONFIG

for (const engine of testEngines()) {
  describe(`webhook deliveries (${engine})`, () => {
    let t: TestApp
    let user: TestUser
    before(async () => {
      t = await buildTestApp(CONFIG, { backgroundJobs: true }, engine)
      user = await registerAndLogin(t.app)
    })
    after(() => t.close())

    const { subscribe, deliveries, webhook } = webhookClient(
      () => t.app,
      () => user,
    )

    it('delivers every change, signed so that an independent verifier accepts it', async () => {
      const receiver = await startReceiver()
      try {
        const hook = await subscribe(receiver.url)
        assert.match(hook.secret, /^whsec_[A-Za-z0-9+/]+=*$/)
        const keyBytes = Buffer.from(hook.secret.slice(6), 'base64').length
        assert.ok(keyBytes >= 24 && keyBytes <= 64)
        const task = await createTask(t.app, user, aTask({ title: 'signed' }))
        const patch = await patchTask(t.app, user, task.id, { status: 'done' })
        assert.equal(patch.statusCode, 200)
        const del = await t.app.inject({ method: 'DELETE', url: `/v1/tasks/${task.id}`, headers: user.auth })
        assert.equal(del.statusCode, 204)
        const restore = await t.app.inject({
          method: 'POST',
          url: `/v1/tasks/${task.id}/restore`,
          headers: user.auth,
        })
        assert.equal(restore.statusCode, 200)
        await waitFor(() => receiver.received.length >= 4, '4 deliveries')
        const mine = receiver.received.filter((d) => d.json.data.task.id === task.id)
        assert.deepEqual(mine.map((d) => d.json.type).sort(), [
          'task.created',
          'task.deleted',
          'task.restored',
          'task.updated',
        ])
        for (const d of mine) {
          assert.ok(verifyStandardWebhook(hook.secret, d), `signature of ${d.json.type} verifies`)
          assert.equal(d.json.data.task.id, task.id)
          assert.match(d.json.timestamp, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/)
        }
        // A tampered body or another secret must not verify (the verifier can fail).
        const first = mine[0]!
        assert.equal(verifyStandardWebhook(hook.secret, { ...first, body: `${first.body} ` }), false)
        assert.equal(verifyStandardWebhook(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, first), false)
        const list = await waitFor(async () => {
          const items = await deliveries(hook.id)
          return items.filter((i) => i.status === 'succeeded').length === 4 && items
        }, 'deliveries marked succeeded')
        assert.ok(list.every((i) => i.attempts === 1 && i.lastResponseStatus === 204))
      } finally {
        await receiver.close()
      }
    })

    it('keeps retrying while the receiver is down and delivers everything once it is back', async () => {
      const probe = await startReceiver()
      const port = probe.port
      const hook = await subscribe(probe.url, ['task.created'])
      await probe.close() // receiver down
      const ids: string[] = []
      for (let i = 0; i < 5; i++) ids.push((await createTask(t.app, user)).id)
      await waitFor(async () => (await deliveries(hook.id)).every((d) => d.attempts >= 2), 'failed attempts')
      const back = await startReceiver(port)
      try {
        await waitFor(
          () => ids.every((id) => back.received.some((d) => d.json.data.task.id === id)),
          'all 5 delivered',
        )
        for (const id of ids) {
          const copies = back.received.filter((d) => d.json.data.task.id === id)
          assert.equal(
            new Set(copies.map((d) => d.id)).size,
            1,
            'one webhook-id per event, however often sent',
          )
        }
        await waitFor(
          async () => (await deliveries(hook.id)).every((d) => d.status === 'succeeded'),
          'all succeeded',
        )
        assert.equal((await webhook(hook.id)).consecutiveFailures, 0)
      } finally {
        await back.close()
        await t.app.inject({ method: 'DELETE', url: `/v1/webhooks/${hook.id}`, headers: user.auth })
      }
    })

    it('treats a redirect as a failure without following it, and 410 disables the endpoint', async () => {
      const target = await startReceiver()
      const redirecting = await startReceiver(0, (_req, res) => {
        res.writeHead(302, { location: target.url }).end()
      })
      try {
        const hook = await subscribe(redirecting.url, ['task.created'])
        await createTask(t.app, user)
        await waitFor(async () => (await deliveries(hook.id))[0]?.lastResponseStatus === 302, '302 recorded')
        const [d] = await deliveries(hook.id)
        assert.equal(d?.status, 'pending')
        assert.equal(target.received.length, 0, 'the redirect target was never called')
        redirecting.behave((_req, res) => {
          res.writeHead(410).end()
        })
        await waitFor(async () => (await webhook(hook.id)).enabled === false, 'endpoint disabled by 410')
        assert.match((await webhook(hook.id)).disabledReason ?? '', /410/)
        const before = redirecting.received.length
        await createTask(t.app, user)
        await new Promise((r) => setTimeout(r, 500))
        assert.equal(redirecting.received.length, before, 'a disabled endpoint receives nothing')
      } finally {
        await target.close()
        await redirecting.close()
      }
    })

    it('honours Retry-After on 429 and 503', async () => {
      let calls = 0
      const receiver = await startReceiver(0, (_req, res) => {
        calls += 1
        if (calls === 1) res.writeHead(429, { 'retry-after': '3' }).end()
        else res.writeHead(200).end()
      })
      try {
        const hook = await subscribe(receiver.url, ['task.created'])
        await createTask(t.app, user)
        await waitFor(() => receiver.received.length >= 1, 'first attempt')
        await new Promise((r) => setTimeout(r, 1800)) // the schedule says 1 s; Retry-After says 3 s
        assert.equal(receiver.received.length, 1, 'no retry before Retry-After')
        await waitFor(() => receiver.received.length >= 2, 'retry after Retry-After', 6000)
        const [first, second] = receiver.received
        assert.equal(first?.id, second?.id, 'webhook-id is stable across retries')
        assert.ok(Number(second?.timestamp) - Number(first?.timestamp) >= 2)
        await waitFor(async () => (await deliveries(hook.id))[0]?.status === 'succeeded', 'succeeded')
      } finally {
        await receiver.close()
      }
    })

    it('a hostile receiver (never answering, slow, huge body) cannot stall other deliveries', async () => {
      const good = await startReceiver()
      const silent = await startReceiver(0, () => {}) // never answers
      const huge = await startReceiver(0, (_req, res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        const chunk = Buffer.alloc(64 * 1024, 120)
        const pump = () => {
          while (!res.destroyed && res.write(chunk)) {}
          if (!res.destroyed) res.once('drain', pump)
        }
        pump()
      })
      const slow = await startReceiver(0, (_req, res) => {
        res.writeHead(200)
        const timer = setInterval(() => (res.destroyed ? clearInterval(timer) : res.write('.')), 200)
      })
      try {
        const hooks = [
          await subscribe(silent.url, ['task.created']),
          await subscribe(huge.url, ['task.created']),
          await subscribe(slow.url, ['task.created']),
          await subscribe(silent.url, ['task.created']),
          await subscribe(silent.url, ['task.created']),
        ]
        const goodHook = await subscribe(good.url, ['task.created'])
        const started = Date.now()
        const tasks = [await createTask(t.app, user), await createTask(t.app, user)]
        await waitFor(
          () => tasks.every((task) => good.received.some((d) => d.json.data.task.id === task.id)),
          'the good receiver got both',
          8000,
        )
        assert.ok(Date.now() - started < 8000)
        // The huge and slow 200s count as successes (2xx arrived in time); the silent ones time out.
        await waitFor(async () => (await deliveries(hooks[1]!.id))[0]?.status === 'succeeded', 'huge body ok')
        await waitFor(async () => (await deliveries(hooks[2]!.id))[0]?.status === 'succeeded', 'slow body ok')
        await waitFor(
          async () => ((await deliveries(hooks[0]!.id))[0]?.attempts ?? 0) >= 1,
          'silent timed out',
        )
        for (const h of [...hooks, goodHook])
          await t.app.inject({ method: 'DELETE', url: `/v1/webhooks/${h.id}`, headers: user.auth })
      } finally {
        await Promise.all([good.close(), silent.close(), huge.close(), slow.close()])
      }
    })

    it('records no event and delivers nothing for a change that rolled back', async () => {
      const receiver = await startReceiver()
      try {
        await subscribe(receiver.url, ['task.created'])
        const count = async (table: 'events' | 'webhook_deliveries') =>
          Number(
            (
              await sql<{ n: number }>`SELECT COUNT(*) AS n FROM ${sql.table(table)}`.execute(
                t.app.database.db,
              )
            ).rows[0]?.n,
          )
        const before = { events: await count('events'), deliveries: await count('webhook_deliveries') }
        // The real service and recorder; the change fails after its event row was written.
        const tasks = new TaskService({
          database: t.app.database,
          clock: systemClock,
          events: new OutboxRecorder({
            engine: t.app.database.engine,
            clock: systemClock,
            signal: localEventSignal(),
          }),
          requireIfMatch: false,
        })
        const principal = {
          userId: user.id,
          role: 'user' as const,
          scopes: new Set<string>(),
          via: 'session' as const,
        }
        await assert.rejects(
          tasks.create(principal, { title: 'rolled back' }, async () => {
            throw new Error('fail after the event was recorded')
          }),
          /fail after/,
        )
        assert.deepEqual(
          { events: await count('events'), deliveries: await count('webhook_deliveries') },
          before,
          'neither the event nor its delivery survived the rollback',
        )
        const committed = await createTask(t.app, user, aTask({ title: 'committed' }))
        await waitFor(
          () => receiver.received.some((d) => d.json.data.task.id === committed.id),
          'later event',
        )
        assert.ok(receiver.received.every((d) => d.json.data.task.title !== 'rolled back'))
        assert.equal(await count('events'), before.events + 1)
      } finally {
        await receiver.close()
      }
    })
  })
}

// GET /v1/events over a real socket: ids on every event, Last-Event-ID replay after a disconnect
// (nothing missed, nothing repeated), heartbeats, no compression buffering, clean shutdown, and
// changes made through another instance reaching the stream.
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { buildApp } from '../src/app.ts'
import { configFrom } from '../src/config.ts'
import { openSse, type SseClient, waitFor } from './events-support.ts'
import {
  aTask,
  buildTestApp,
  createTask,
  errorOf,
  LogCapture,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

const ids = (client: SseClient) => client.events.map((e) => e.id)
const taskIdOf = (data: string) => (JSON.parse(data) as { data: { task: { id: string } } }).data.task.id

for (const engine of testEngines()) {
  describe(`live events over SSE (${engine})`, () => {
    let t: TestApp
    let user: TestUser
    let base: string
    before(async () => {
      // A slow safety-net poll, so prompt arrivals prove the wake-ups work.
      t = await buildTestApp({ EVENTS_HEARTBEAT_SECONDS: 1, EVENTS_POLL_INTERVAL_MS: 30_000 }, {}, engine)
      user = await registerAndLogin(t.app)
      await t.app.listen({ port: 0, host: '127.0.0.1' })
      base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
    })
    after(() => t.close())

    it('streams every change with an id, uncompressed, with heartbeats', async () => {
      const client = await openSse(base, user.token)
      try {
        assert.equal(client.status, 200)
        assert.match(String(client.headers['content-type']), /^text\/event-stream/)
        assert.equal(client.headers['content-encoding'], undefined, 'never compressed (compression buffers)')
        assert.equal(client.headers['cache-control'], 'no-store')
        const task = await createTask(t.app, user, aTask({ description: 'x'.repeat(4000) }))
        const patched = await fetch(`${base}/v1/tasks/${task.id}`, {
          method: 'PATCH',
          headers: { ...user.auth, 'content-type': 'application/json' },
          body: JSON.stringify({ status: 'doing' }),
        })
        assert.equal(patched.status, 200)
        await waitFor(() => client.events.length >= 2, 'two events', 20_000)
        assert.deepEqual(
          client.events.map((e) => e.event),
          ['task.created', 'task.updated'],
        )
        assert.ok(client.events.every((e) => /^\d+$/.test(e.id)))
        assert.ok(Number(client.events[1]!.id) > Number(client.events[0]!.id))
        const body = JSON.parse(client.events[1]!.data) as {
          type: string
          data: { task: { status: string } }
        }
        assert.equal(body.type, 'task.updated')
        assert.equal(body.data.task.status, 'doing')
        await waitFor(() => client.comments.includes('heartbeat'), 'a heartbeat comment', 3000)
      } finally {
        client.close()
      }
    })

    it('replays exactly what was missed after a disconnect (header or query parameter)', async () => {
      const first = await openSse(base, user.token)
      const seen = [await createTask(t.app, user), await createTask(t.app, user)].map((x) => x.id)
      await waitFor(() => first.events.length >= 2, 'first two', 20_000)
      first.close()
      const lastId = first.events.at(-1)!.id
      const missed: string[] = []
      for (let i = 0; i < 5; i++) missed.push((await createTask(t.app, user)).id)
      const resumed = await openSse(base, user.token, lastId)
      try {
        await waitFor(() => resumed.events.length >= 5, 'the five missed events', 20_000)
        await new Promise((r) => setTimeout(r, 300))
        assert.deepEqual(
          resumed.events.map((e) => taskIdOf(e.data)),
          missed,
          'all missed, in order, none repeated',
        )
        assert.ok(resumed.events.every((e) => !seen.includes(taskIdOf(e.data))))
        assert.ok(ids(resumed).every((id) => Number(id) > Number(lastId)))
      } finally {
        resumed.close()
      }
      const q = await fetch(`${base}/v1/events?lastEventId=${lastId}`, {
        headers: { ...user.auth, accept: 'text/event-stream' },
      })
      assert.equal(q.status, 200)
      const reader = q.body!.getReader()
      let text = ''
      while (!missed.every((id) => text.includes(id))) {
        const { value, done } = await reader.read()
        if (done) break
        text += Buffer.from(value).toString('utf8')
      }
      await reader.cancel()
      assert.ok(
        missed.every((id) => text.includes(id)),
        'lastEventId query replays too',
      )
      // An id past the newest was never given by this stream: it replays from the oldest
      // retained event, as an expired one does, rather than waiting silently for that id.
      const beyond = await openSse(base, user.token, String(Number(lastId) + 1_000_000_000))
      try {
        const next = await createTask(t.app, user)
        await waitFor(
          () => beyond.events.some((e) => taskIdOf(e.data) === next.id),
          'the next event after an unknown Last-Event-ID',
          20_000,
        )
        assert.ok(
          beyond.events.some((e) => taskIdOf(e.data) === missed[0]),
          'replayed from the oldest',
        )
      } finally {
        beyond.close()
      }
    })

    it('refuses a malformed Last-Event-ID, a JSON-only Accept and missing credentials', async () => {
      const bad = await t.app.inject({
        method: 'GET',
        url: '/v1/events',
        headers: { ...user.auth, 'last-event-id': 'abc' },
      })
      assert.equal(bad.statusCode, 422)
      assert.equal(errorOf(bad).details?.[0]?.field, 'last-event-id')
      const badQuery = await t.app.inject({
        method: 'GET',
        url: '/v1/events?lastEventId=-1',
        headers: user.auth,
      })
      assert.equal(badQuery.statusCode, 422)
      const json = await t.app.inject({
        method: 'GET',
        url: '/v1/events',
        headers: { ...user.auth, accept: 'application/json' },
      })
      assert.equal(json.statusCode, 406)
      const anon = await t.app.inject({ method: 'GET', url: '/v1/events' })
      assert.equal(anon.statusCode, 401)
    })

    it('replays a long backlog across read batches, in order', async () => {
      const first = await createTask(t.app, user)
      const probe = await openSse(base, user.token, '0')
      await waitFor(() => probe.events.find((e) => taskIdOf(e.data) === first.id), 'the marker event', 20_000)
      const markerId = probe.events.find((e) => taskIdOf(e.data) === first.id)!.id
      probe.close()
      const db = t.app.database.db
      const now = new Date().toISOString()
      for (let chunk = 0; chunk < 6; chunk++) {
        await db
          .insertInto('events')
          .values(
            Array.from({ length: 200 }, (_, i) => ({
              type: 'task.updated',
              task_id: randomUUID(),
              owner_id: user.id,
              payload: JSON.stringify({
                type: 'task.updated',
                timestamp: now,
                data: { task: { id: `bulk-${chunk * 200 + i}` } },
              }),
              created_at: now,
            })),
          )
          .execute()
      }
      const replay = await openSse(base, user.token, markerId)
      try {
        await waitFor(() => replay.events.length >= 1200, '1200 replayed events', 20_000)
        assert.deepEqual(
          replay.events.slice(0, 1200).map((e) => taskIdOf(e.data)),
          Array.from({ length: 1200 }, (_, i) => `bulk-${i}`),
        )
      } finally {
        replay.close()
      }
    })

    it('caps open streams per user with 429', async () => {
      const other = await registerAndLogin(t.app)
      const open: SseClient[] = []
      try {
        for (let i = 0; i < 10; i++) open.push(await openSse(base, other.token))
        assert.ok(open.every((c) => c.status === 200))
        const refused = await openSse(base, other.token)
        open.push(refused)
        assert.equal(refused.status, 429)
        assert.ok(refused.headers['retry-after'])
        open.shift()?.close()
        await waitFor(async () => {
          const again = await openSse(base, other.token)
          open.push(again)
          return again.status === 200
        }, 'a slot after one stream closed')
      } finally {
        for (const c of open) c.close()
      }
    })

    it('a change made through another instance reaches streams on this one', async () => {
      // The reader is a second instance on the same database. PostgreSQL wakes it with NOTIFY
      // (its poll is too slow to pass); SQLite has one process per file in production, so a
      // second instance there is only reached by the poll.
      const reader = await buildApp(
        configFrom({
          ...Object.fromEntries(Object.entries(t.config).filter(([, v]) => v !== undefined)),
          EVENTS_POLL_INTERVAL_MS: engine === 'postgres' ? 30_000 : 200,
        }),
        { backgroundJobs: false },
      )
      await reader.listen({ port: 0, host: '127.0.0.1' })
      const client = await openSse(
        `http://127.0.0.1:${(reader.server.address() as AddressInfo).port}`,
        user.token,
      )
      try {
        const task = await createTask(t.app, user)
        await waitFor(
          () => client.events.some((e) => taskIdOf(e.data) === task.id),
          'event from the other instance',
          5000,
        )
      } finally {
        client.close()
        await reader.close()
      }
    })

    it('logs and counts a stream the client closes, as every other request is', async () => {
      const logs = new LogCapture()
      const t2 = await buildTestApp({ LOG_LEVEL: 'info' }, { logStream: logs }, engine)
      try {
        const viewer = await registerAndLogin(t2.app)
        await t2.app.listen({ port: 0, host: '127.0.0.1' })
        const base2 = `http://127.0.0.1:${(t2.app.server.address() as AddressInfo).port}`
        const client = await openSse(base2, viewer.token)
        assert.equal(client.status, 200)
        const requestId = String(client.headers['x-request-id'])
        client.close()
        await waitFor(
          () => logs.entries().some((e) => e.requestId === requestId && e.msg === 'request completed'),
          'the stream’s log line',
          5000,
        )
        const line = logs.entries().find((e) => e.requestId === requestId && e.msg === 'request completed')
        assert.equal(line?.route, '/v1/events')
        assert.equal(line?.status, 200)
        assert.equal(line?.closedBy, 'client')
        assert.equal(line?.userId, viewer.id)
        const metrics = await t2.app.inject({ method: 'GET', url: '/metrics' })
        assert.match(metrics.body, /http_requests_total\{method="GET",route="\/v1\/events",status="200"\} 1/)
      } finally {
        await t2.close()
      }
    })

    it('ends a stream once its API token is revoked or its session logged out, and no other', async () => {
      // Checked again at most every second with CREDENTIAL_RECHECK_MS=0 (the default 5 s is the same path).
      const t2 = await buildTestApp({ CREDENTIAL_RECHECK_MS: 0 }, {}, engine)
      const clients: SseClient[] = []
      try {
        const owner = await registerAndLogin(t2.app)
        const bystander = await registerAndLogin(t2.app)
        await t2.app.listen({ port: 0, host: '127.0.0.1' })
        const base2 = `http://127.0.0.1:${(t2.app.server.address() as AddressInfo).port}`
        const created = await t2.app.inject({
          method: 'POST',
          url: '/v1/api-tokens',
          headers: owner.auth,
          payload: { name: 'stream', scopes: ['tasks:read'] },
        })
        assert.equal(created.statusCode, 201, created.body)
        const apiToken = created.json() as { id: string; token: string }
        const viaToken = await openSse(base2, apiToken.token)
        const viaSession = await openSse(base2, owner.token)
        const unrelated = await openSse(base2, bystander.token)
        clients.push(viaToken, viaSession, unrelated)
        assert.deepEqual(
          clients.map((c) => c.status),
          [200, 200, 200],
        )
        const ended = clients.map(() => false)
        clients.forEach((c, i) => {
          void c.ended.then(() => {
            ended[i] = true
          })
        })
        const revoked = await t2.app.inject({
          method: 'DELETE',
          url: `/v1/api-tokens/${apiToken.id}`,
          headers: owner.auth,
        })
        assert.equal(revoked.statusCode, 204)
        await waitFor(() => ended[0] === true, 'the revoked token’s stream to end', 5000)
        assert.ok(
          viaToken.comments.some((c) => c.startsWith('credential no longer valid')),
          viaToken.comments.join(),
        )
        assert.equal(ended[1], false, 'the session’s stream is still open')
        const out = await t2.app.inject({
          method: 'POST',
          url: '/v1/auth/logout',
          headers: owner.auth,
          payload: { refreshToken: owner.refreshToken },
        })
        assert.equal(out.statusCode, 204)
        await waitFor(() => ended[1] === true, 'the logged-out session’s stream to end', 5000)
        // The bystander's stream stays open and still receives what happens next.
        await createTask(t2.app, bystander)
        await waitFor(() => unrelated.events.length === 1, 'an event on the bystander’s stream', 5000)
        assert.equal(ended[2], false)
        assert.deepEqual(viaToken.events, [])
      } finally {
        for (const c of clients) c.close()
        await t2.close()
      }
    })
  })

  describe(`event streams on shutdown (${engine})`, () => {
    it('app.close() ends open streams promptly instead of hanging', async () => {
      const t = await buildTestApp({}, {}, engine)
      const user = await registerAndLogin(t.app)
      await t.app.listen({ port: 0, host: '127.0.0.1' })
      const base = `http://127.0.0.1:${(t.app.server.address() as AddressInfo).port}`
      const clients = [await openSse(base, user.token), await openSse(base, user.token)]
      const started = Date.now()
      await t.close()
      await Promise.all(clients.map((c) => c.ended))
      assert.ok(Date.now() - started < 3000, `closed in ${Date.now() - started} ms`)
      assert.ok(clients.every((c) => c.comments.includes('server shutting down')))
    })
  })
}

// On PostgreSQL an instance tells the others about its changes with a NOTIFY sent after the
// commit, at most one per NOTIFY_SPACING_MS (src/events/signal.ts). A burst of writes through
// one instance must reach a stream on another instance at once (its poll is far too slow to
// pass), all of it, last change included, while the database sees a few NOTIFYs rather than
// one per write. The NOTIFYs are counted by a session of the test's own, listening as another
// instance's listener does.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { FastifyInstance } from 'fastify'
import pg from 'pg'
import { buildApp } from '../src/app.ts'
import { configFrom } from '../src/config.ts'
import { EVENTS_CHANNEL, NOTIFY_SPACING_MS } from '../src/events/signal.ts'
import { openSse, type SseClient, waitFor } from './events-support.ts'
import { buildTestApp, createTask, registerAndLogin, type TestApp, type TestUser } from './helpers.ts'

const taskIdOf = (data: string) => (JSON.parse(data) as { data: { task: { id: string } } }).data.task.id

describe('announcing changes to other instances (postgres)', () => {
  let t: TestApp
  let user: TestUser
  let reader: FastifyInstance
  let stream: SseClient
  let listener: pg.Client
  let notifies = 0

  before(async () => {
    t = await buildTestApp({ EVENTS_POLL_INTERVAL_MS: 30_000 }, {}, 'postgres')
    user = await registerAndLogin(t.app)
    reader = await buildApp(
      configFrom(Object.fromEntries(Object.entries(t.config).filter(([, v]) => v !== undefined))),
      { backgroundJobs: false },
    )
    await reader.listen({ port: 0, host: '127.0.0.1' })
    stream = await openSse(`http://127.0.0.1:${(reader.server.address() as AddressInfo).port}`, user.token)
    listener = new pg.Client({ connectionString: t.config.DATABASE_URL })
    await listener.connect()
    const schema = (await listener.query<{ s: string }>('SELECT current_schema() AS s')).rows[0]?.s
    listener.on('notification', (n) => {
      if (n.channel === EVENTS_CHANNEL && n.payload === schema) notifies++
    })
    await listener.query(`LISTEN ${EVENTS_CHANNEL}`)
  })
  after(async () => {
    stream.close()
    await listener.end()
    await reader.close()
    await t.close()
  })

  const reached = (ids: string[]) => {
    const seen = new Set(stream.events.map((e) => taskIdOf(e.data)))
    return ids.every((id) => seen.has(id))
  }

  it('brings a single change and a burst of them to the other instance at once', async () => {
    const one = await createTask(t.app, user)
    await waitFor(() => reached([one.id]), 'the single change on the other instance', 5_000)

    notifies = 0
    const creates = 60
    const started = performance.now()
    const burst = await Promise.all(Array.from({ length: creates }, () => createTask(t.app, user)))
    await waitFor(() => reached(burst.map((task) => task.id)), 'the whole burst on the other instance', 5_000)
    // The sending rule over the whole burst: one at its start, then at most one per spacing (plus
    // the single create's, should it arrive late). One NOTIFY per create breaks it unless the
    // creates are more than a spacing apart, which 60 at once on a pool of 10 are not.
    const window = performance.now() - started
    const bound = Math.floor(window / NOTIFY_SPACING_MS) + 2
    assert.ok(
      notifies >= 1 && notifies <= bound,
      `${notifies} NOTIFYs for ${creates} creates in ${Math.round(window)} ms`,
    )
  })
})

// The event seam (src/events/recorder.ts): each change records exactly its event inside
// its transaction; no-ops and refused requests record none; a failing recorder undoes the change.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { EventRecorder, TaskEventType } from '../src/events/recorder.ts'
import {
  buildTestApp,
  createTask,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

class RecordingEvents implements EventRecorder {
  readonly events: { type: TaskEventType; taskId: string; version: number }[] = []
  failNext = false
  async recordTaskEvent(_trx: unknown, type: TaskEventType, task: { id: string; version: number }) {
    if (this.failNext) {
      this.failNext = false
      throw new Error('outbox unavailable')
    }
    this.events.push({ type, taskId: task.id, version: task.version })
  }
  since(n: number) {
    return this.events.slice(n).map((e) => `${e.type}@v${e.version}`)
  }
}

for (const engine of testEngines()) {
  describe(`task events (${engine})`, () => {
    let t: TestApp
    let user: TestUser
    let other: TestUser
    const events = new RecordingEvents()
    before(async () => {
      t = await buildTestApp({}, { events }, engine)
      ;[user, other] = await Promise.all([registerAndLogin(t.app), registerAndLogin(t.app)])
    })
    after(() => t.close())

    const send = (
      method: 'PATCH' | 'DELETE' | 'POST',
      url: string,
      who: TestUser,
      payload?: Record<string, unknown>,
      headers = {},
    ) => t.app.inject({ method, url, headers: { ...who.auth, ...headers }, ...(payload ? { payload } : {}) })

    it('records one event per change, with the version it produced', async () => {
      const n = events.events.length
      const task = await createTask(t.app, user)
      const url = `/v1/tasks/${task.id}`
      await send('PATCH', url, user, { status: 'done' })
      await send('DELETE', url, user)
      await send('POST', `${url}/restore`, user)
      assert.deepEqual(events.since(n), [
        'task.created@v1',
        'task.updated@v2',
        'task.deleted@v3',
        'task.restored@v4',
      ])
    })

    it('records nothing for no-ops and refused requests', async () => {
      const task = await createTask(t.app, user)
      const url = `/v1/tasks/${task.id}`
      const n = events.events.length
      assert.equal((await send('PATCH', url, user, {})).statusCode, 200)
      assert.equal((await send('PATCH', url, user, { title: task.title as string })).statusCode, 200)
      assert.equal((await send('POST', `${url}/restore`, user)).statusCode, 200)
      assert.equal((await send('PATCH', url, user, { title: 'x' }, { 'if-match': '"v9"' })).statusCode, 412)
      assert.equal((await send('PATCH', url, other, { title: 'x' })).statusCode, 403)
      assert.equal((await send('PATCH', url, user, { title: '' })).statusCode, 422)
      assert.equal(
        (
          await send('POST', '/v1/tasks', user, {
            title: 'x',
            tags: Array.from({ length: 21 }, (_, i) => `t${i}`),
          })
        ).statusCode,
        422,
      )
      assert.deepEqual(events.since(n), [])
    })

    it('undoes the change when its event cannot be recorded (no change without its event)', async () => {
      const task = await createTask(t.app, user)
      events.failNext = true
      const patch = await send('PATCH', `/v1/tasks/${task.id}`, user, { title: 'never stored' })
      assert.equal(patch.statusCode, 500)
      assert.equal(patch.json().error.code, 'INTERNAL_ERROR')
      assert.doesNotMatch(patch.body, /outbox unavailable/)
      const current = await t.app.inject({ method: 'GET', url: `/v1/tasks/${task.id}`, headers: user.auth })
      assert.equal(current.json().title, task.title)
      assert.equal(current.json().version, 1)

      const before = (
        await t.app.inject({ method: 'GET', url: '/v1/tasks?ownerId=me', headers: user.auth })
      ).json().page.total
      events.failNext = true
      const create = await send(
        'POST',
        '/v1/tasks',
        user,
        { title: 'never created' },
        { 'idempotency-key': 'evt-1' },
      )
      assert.equal(create.statusCode, 500)
      const afterCount = (
        await t.app.inject({ method: 'GET', url: '/v1/tasks?ownerId=me', headers: user.auth })
      ).json().page.total
      assert.equal(afterCount, before)
      const retry = await send(
        'POST',
        '/v1/tasks',
        user,
        { title: 'never created' },
        { 'idempotency-key': 'evt-1' },
      )
      assert.equal(retry.statusCode, 201, 'the key was released, so a retry runs for real')
      assert.equal(retry.headers['idempotency-replayed'], undefined)
    })
  })
}

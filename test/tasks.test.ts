// Tasks API through inject(): create/get/patch/delete/restore, every field rule of
// API.md §3, ownership and soft-delete visibility. Runs on every engine.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import Fastify, { type LightMyRequestResponse } from 'fastify'
import { TaskListSchema, TaskSchema } from '../src/tasks/schemas.ts'
import {
  aTask,
  buildTestApp,
  createTask,
  errorOf,
  PASSWORD,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

async function makeAdmin(t: TestApp, user: TestUser): Promise<TestUser> {
  await t.app.database.db.updateTable('users').set({ role: 'admin' }).where('id', '=', user.id).execute()
  const login = await t.app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { email: user.email, password: PASSWORD },
  })
  const token = (login.json() as { accessToken: string }).accessToken
  return { ...user, token, auth: { authorization: `Bearer ${token}` } }
}

/**
 * What the routes' response schemas would write for `body` (Fastify's own serializer, compiled
 * from the same schemas the OpenAPI document shows). Task bodies are written with JSON.stringify
 * instead (src/tasks/routes.ts); equal text means no field more or less, none of another type,
 * in the documented order.
 */
async function schemaSerialized(schema: 'task' | 'list', body: unknown): Promise<string> {
  const app = Fastify()
  app.addSchema(TaskSchema)
  app.post(
    '/',
    { schema: { response: { 200: schema === 'task' ? TaskSchema : TaskListSchema } } },
    (request) => request.body,
  )
  try {
    return (await app.inject({ method: 'POST', url: '/', payload: body as Record<string, unknown> })).body
  } finally {
    await app.close()
  }
}

for (const engine of testEngines()) {
  describe(`tasks API (${engine})`, () => {
    let t: TestApp
    let alice: TestUser
    let bob: TestUser
    let admin: TestUser
    before(async () => {
      t = await buildTestApp({}, {}, engine)
      ;[alice, bob, admin] = await Promise.all([
        registerAndLogin(t.app),
        registerAndLogin(t.app),
        registerAndLogin(t.app),
      ])
      admin = await makeAdmin(t, admin)
    })
    after(() => t.close())

    const req = (
      method: 'GET' | 'POST' | 'PATCH' | 'DELETE',
      url: string,
      user: TestUser,
      payload?: Record<string, unknown>,
    ): Promise<LightMyRequestResponse> =>
      t.app.inject({ method, url, headers: user.auth, ...(payload === undefined ? {} : { payload }) })

    it('creates a task with defaults, Location and ETag, and reads it back', async () => {
      const res = await req('POST', '/v1/tasks', alice, { title: '  Write the docs  ' })
      assert.equal(res.statusCode, 201)
      const task = res.json()
      assert.match(task.id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      assert.deepEqual(
        { ...task, id: undefined, createdAt: undefined, updatedAt: undefined },
        {
          id: undefined,
          title: 'Write the docs',
          description: '',
          status: 'todo',
          priority: 'normal',
          dueAt: null,
          tags: [],
          ownerId: alice.id,
          createdAt: undefined,
          updatedAt: undefined,
          deletedAt: null,
          version: 1,
        },
      )
      assert.match(task.createdAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
      assert.equal(res.headers.location, `/v1/tasks/${task.id}`)
      assert.equal(res.headers.etag, '"v1"')
      assert.match(String(res.headers['content-type']), /^application\/json; charset=utf-8/)
      const got = await req('GET', `/v1/tasks/${task.id}`, bob)
      assert.equal(got.statusCode, 200)
      assert.deepEqual(got.json(), task)
      assert.equal(got.headers.etag, '"v1"')
    })

    it('normalises every field on create', async () => {
      const task = await createTask(t.app, alice, {
        title: 'Normalise',
        description: 'd',
        status: 'doing',
        priority: 'urgent',
        dueAt: '2026-12-01T12:00:00+02:00',
        tags: [' Docs ', 'docs', 'A_b-1'],
      })
      assert.equal(task.dueAt, '2026-12-01T10:00:00.000Z')
      assert.deepEqual(task.tags, ['docs', 'a_b-1'])
      assert.equal(task.status, 'doing')
      assert.equal(task.priority, 'urgent')
    })

    const invalidBodies: [string, Record<string, unknown>, string[]][] = [
      ['missing title', { description: 'x' }, ['title']],
      ['blank title', { title: '   ' }, ['title']],
      ['title over 200', { title: 'x'.repeat(201) }, ['title']],
      ['control characters', { title: 'a\u0000b' }, ['title']],
      ['a C1 control character (U+0085, which trimming keeps)', { title: 'a\u0085b' }, ['title']],
      ['an unpaired surrogate (JSON "\\ud800")', { title: 'x', description: 'a\ud800b' }, ['description']],
      ['an unpaired surrogate in a tag', { title: 'x', tags: ['ok', 'a\udc00'] }, ['tags.1']],
      ['NUL in the description', { title: 'x', description: 'a\u0000b' }, ['description']],
      ['a leap second in dueAt', { title: 'x', dueAt: '2026-12-31T23:59:60Z' }, ['dueAt']],
      ['a dueAt in year 0', { title: 'x', dueAt: '0000-06-01T00:00:00Z' }, ['dueAt']],
      ['title not a string', { title: 5 }, ['title']],
      ['description over 10,000', { title: 'x', description: 'd'.repeat(10_001) }, ['description']],
      ['bad status and priority', { title: 'x', status: 'open', priority: 'top' }, ['priority', 'status']],
      ['bad dueAt', { title: 'x', dueAt: '2026-13-45' }, ['dueAt']],
      ['dueAt without zone', { title: 'x', dueAt: '2026-12-01T10:00:00' }, ['dueAt']],
      ['bad tag', { title: 'x', tags: ['ok', 'not ok'] }, ['tags.1']],
      ['tag too long', { title: 'x', tags: ['t'.repeat(41)] }, ['tags.0']],
      ['21 distinct tags', { title: 'x', tags: Array.from({ length: 21 }, (_, i) => `t${i}`) }, ['tags']],
      ['tags not an array', { title: 'x', tags: 'docs' }, ['tags']],
      ['unknown field', { title: 'x', colour: 'red' }, ['colour']],
      ['read-only fields', { title: 'x', id: 'a', ownerId: 'b', version: 3 }, ['id', 'ownerId', 'version']],
      ['everything at once', { title: '', status: 'nope', extra: 1 }, ['extra', 'status', 'title']],
      [
        'problems of every kind at once (schema, text, time)',
        { title: 'a\ud800', description: 'x\u0000', dueAt: '2026-12-31T23:59:60Z', priority: 'zzz', foo: 1 },
        ['description', 'dueAt', 'foo', 'priority', 'title'],
      ],
    ]
    for (const [name, body, fields] of invalidBodies) {
      it(`refuses a create with ${name}: 422 naming ${fields.join(', ')}, nothing stored`, async () => {
        const user = await registerAndLogin(t.app)
        const res = await req('POST', '/v1/tasks', user, body)
        assert.equal(res.statusCode, 422, res.body)
        const error = errorOf(res)
        assert.equal(error.code, 'VALIDATION_FAILED')
        assert.deepEqual([...new Set(error.details?.map((d) => d.field))].sort(), fields)
        const list = await req('GET', '/v1/tasks?ownerId=me', user)
        assert.equal(list.json().page.total, 0)
      })
    }

    it('names an unpaired surrogate as such wherever it is in a body, beside the schema’s own problems', async () => {
      const res = await req('POST', '/v1/tasks', alice, { title: 'x', tags: ['ok', 'a\udc00'], 'k\ud800': 1 })
      assert.equal(res.statusCode, 422)
      const unpaired = (errorOf(res).details ?? []).filter((d) =>
        d.message.startsWith('must be valid Unicode text'),
      )
      assert.deepEqual(unpaired.map((d) => d.field).sort(), ['k\ud800', 'tags.1'])
    })

    it('patches any subset, bumps the version, and clears dueAt with null', async () => {
      const task = await createTask(t.app, alice, aTask({ dueAt: '2026-12-01T00:00:00Z', tags: ['a'] }))
      const res = await req('PATCH', `/v1/tasks/${task.id}`, alice, {
        status: 'done',
        dueAt: null,
        tags: ['B', 'c'],
      })
      assert.equal(res.statusCode, 200)
      const patched = res.json()
      assert.equal(patched.status, 'done')
      assert.equal(patched.dueAt, null)
      assert.deepEqual(patched.tags, ['b', 'c'])
      assert.equal(patched.version, 2)
      assert.equal(patched.title, task.title)
      assert.equal(res.headers.etag, '"v2"')
      assert.ok(patched.updatedAt >= (task.updatedAt as string))
      const tagged = await req('GET', '/v1/tasks?ownerId=me&tag=b', alice)
      assert.deepEqual(
        tagged.json().items.map((i: { id: string }) => i.id),
        [task.id],
      )
      const oldTag = await req('GET', '/v1/tasks?ownerId=me&tag=a', alice)
      assert.equal(oldTag.json().page.total, 0)
    })

    it('treats {} and a patch that changes nothing as a no-op (version unchanged)', async () => {
      const task = await createTask(t.app, alice)
      for (const body of [{}, { title: task.title, status: 'todo' }]) {
        const res = await req('PATCH', `/v1/tasks/${task.id}`, alice, body)
        assert.equal(res.statusCode, 200)
        assert.equal(res.json().version, 1)
        assert.equal(res.json().updatedAt, task.updatedAt)
      }
    })

    it('takes a UTF-8 body whatever the case or quoting of charset=utf-8, and keeps its text as sent', async () => {
      for (const contentType of [
        'application/json',
        'application/json; charset=UTF-8',
        'application/json;charset="utf8"',
      ]) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/tasks',
          headers: { ...alice.auth, 'content-type': contentType },
          payload: Buffer.from('{"title": "café ☕ 𝄞"}', 'utf8'),
        })
        assert.equal(res.statusCode, 201, `${contentType}: ${res.body}`)
        assert.equal(res.json().title, 'café ☕ 𝄞')
      }
    })

    it('refuses a body on DELETE and restore unless it is empty, and changes nothing', async () => {
      const task = await createTask(t.app, alice)
      const url = `/v1/tasks/${task.id}`
      for (const [method, path, payload, fields] of [
        ['DELETE', url, { force: true }, ['force']],
        ['DELETE', url, [1, 2], ['body']],
        ['POST', `${url}/restore`, { foo: 1 }, ['foo']],
      ] as const) {
        const res = await t.app.inject({ method, url: path, headers: alice.auth, payload: payload as object })
        assert.equal(res.statusCode, 422, `${method} ${path} ${JSON.stringify(payload)}: ${res.body}`)
        assert.deepEqual(
          errorOf(res).details?.map((d) => d.field),
          fields,
        )
      }
      const still = await req('GET', url, alice)
      assert.equal(still.statusCode, 200)
      assert.equal(still.json().version, 1)
      const empty = await t.app.inject({ method: 'DELETE', url, headers: alice.auth, payload: {} })
      assert.equal(empty.statusCode, 204, empty.body)
      const restored = await t.app.inject({ method: 'POST', url: `${url}/restore`, headers: alice.auth })
      assert.equal(restored.statusCode, 200, restored.body)
    })

    it('accepts application/merge-patch+json', async () => {
      const task = await createTask(t.app, alice)
      const res = await t.app.inject({
        method: 'PATCH',
        url: `/v1/tasks/${task.id}`,
        headers: { ...alice.auth, 'content-type': 'application/merge-patch+json' },
        payload: JSON.stringify({ priority: 'low' }),
      })
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().priority, 'low')
    })

    it('refuses invalid patches with every problem listed and changes nothing', async () => {
      const task = await createTask(t.app, alice)
      const res = await req('PATCH', `/v1/tasks/${task.id}`, alice, {
        title: '',
        priority: 'meh',
        createdAt: '2020-01-01T00:00:00Z',
        deletedAt: null,
      })
      assert.equal(res.statusCode, 422)
      assert.deepEqual(
        errorOf(res)
          .details?.map((d) => d.field)
          .sort(),
        ['createdAt', 'deletedAt', 'priority', 'title'],
      )
      const got = await req('GET', `/v1/tasks/${task.id}`, alice)
      assert.equal(got.json().version, 1)
      const nullTitle = await req('PATCH', `/v1/tasks/${task.id}`, alice, { title: null, tags: null })
      assert.equal(nullTitle.statusCode, 422)
      assert.deepEqual(
        errorOf(nullTitle)
          .details?.map((d) => d.field)
          .sort(),
        ['tags', 'title'],
      )
      // A title of one C1 control character: trimming keeps it, so it is not blank, and it is refused.
      const invisible = await req('PATCH', `/v1/tasks/${task.id}`, alice, { title: '\u0085' })
      assert.equal(invisible.statusCode, 422)
      assert.deepEqual(
        errorOf(invisible).details?.map((d) => d.field),
        ['title'],
      )
      assert.equal((await req('GET', `/v1/tasks/${task.id}`, alice)).json().title, task.title)
    })

    it('lets only the owner or an admin change, delete or restore (403 for others)', async () => {
      const task = await createTask(t.app, alice)
      for (const [method, url, body] of [
        ['PATCH', `/v1/tasks/${task.id}`, { title: 'mine now' }],
        ['DELETE', `/v1/tasks/${task.id}`, undefined],
        ['POST', `/v1/tasks/${task.id}/restore`, undefined],
      ] as const) {
        const res = await req(method, url, bob, body)
        assert.equal(res.statusCode, 403, `${method} ${url}`)
        assert.equal(errorOf(res).code, 'FORBIDDEN')
      }
      assert.equal((await req('GET', `/v1/tasks/${task.id}`, alice)).json().version, 1)
      const byAdmin = await req('PATCH', `/v1/tasks/${task.id}`, admin, { title: 'Admin was here' })
      assert.equal(byAdmin.statusCode, 200)
      assert.equal(byAdmin.json().ownerId, alice.id)
      assert.equal((await req('DELETE', `/v1/tasks/${task.id}`, admin)).statusCode, 204)
      assert.equal((await req('POST', `/v1/tasks/${task.id}/restore`, admin)).statusCode, 200)
    })

    it('soft-deletes: 404 for everyone on every method, visible to the owner via deleted=', async () => {
      const task = await createTask(t.app, alice)
      const del = await req('DELETE', `/v1/tasks/${task.id}`, alice)
      assert.equal(del.statusCode, 204)
      assert.equal(del.body, '')
      for (const user of [alice, bob]) {
        for (const [method, url, body] of [
          ['GET', `/v1/tasks/${task.id}`, undefined],
          ['PATCH', `/v1/tasks/${task.id}`, { title: 'x' }],
          ['DELETE', `/v1/tasks/${task.id}`, undefined],
        ] as const) {
          const res = await req(method, url, user, body)
          assert.equal(res.statusCode, 404, `${method} by ${user === alice ? 'owner' : 'other'}`)
          assert.equal(errorOf(res).code, 'NOT_FOUND')
        }
      }
      const restoreByOther = await req('POST', `/v1/tasks/${task.id}/restore`, bob)
      assert.equal(restoreByOther.statusCode, 404)

      const ids = async (user: TestUser, query: string) =>
        (await req('GET', `/v1/tasks?limit=100&${query}`, user)).json().items.map((i: { id: string }) => i.id)
      assert.ok(!(await ids(alice, 'ownerId=me')).includes(task.id))
      assert.ok((await ids(alice, 'deleted=include')).includes(task.id))
      assert.ok((await ids(alice, 'deleted=only')).includes(task.id))
      assert.ok(!(await ids(bob, 'deleted=include')).includes(task.id))
      assert.ok(!(await ids(bob, 'deleted=only')).includes(task.id))
      assert.ok((await ids(admin, 'deleted=only')).includes(task.id))
      assert.ok((await ids(admin, 'deleted=include')).includes(task.id))
      assert.equal(
        (await req('GET', `/v1/tasks/${task.id}`, admin)).statusCode,
        404,
        'GET by id hides it even from admins',
      )
      const only = (await req('GET', '/v1/tasks?deleted=only', alice)).json()
      assert.ok(only.items.every((i: { deletedAt: string | null }) => i.deletedAt !== null))

      const restored = await req('POST', `/v1/tasks/${task.id}/restore`, alice)
      assert.equal(restored.statusCode, 200)
      assert.equal(restored.json().deletedAt, null)
      assert.equal(restored.json().version, 3)
      assert.equal((await req('GET', `/v1/tasks/${task.id}`, bob)).statusCode, 200)
      const again = await req('POST', `/v1/tasks/${task.id}/restore`, alice)
      assert.equal(again.statusCode, 200)
      assert.equal(again.json().version, 3)
    })

    it('answers 404 for unknown and malformed ids on every method', async () => {
      for (const id of ['0193a000-0000-7000-8000-000000000000', 'not-an-id', '1', "x'%20OR%201=1"]) {
        for (const [method, url] of [
          ['GET', `/v1/tasks/${id}`],
          ['PATCH', `/v1/tasks/${id}`],
          ['DELETE', `/v1/tasks/${id}`],
          ['POST', `/v1/tasks/${id}/restore`],
        ] as const) {
          const res = await req(method, url, alice, method === 'PATCH' ? { title: 'x' } : undefined)
          assert.equal(res.statusCode, 404, `${method} ${url}: ${res.body}`)
          assert.equal(errorOf(res).code, 'NOT_FOUND')
        }
      }
    })

    it('writes task bodies exactly as the response schemas describe them, on every route', async () => {
      const created = await req('POST', '/v1/tasks', alice, {
        title: 'Schema "check" ✓ \u2028 \ud83d\ude00',
        description: 'line\nbreak\ttab \\ back',
        dueAt: '2026-12-31T23:59:59.5+01:00',
        tags: ['b', 'a'],
        priority: 'high',
      })
      assert.equal(created.statusCode, 201)
      const { id } = created.json()
      const plain = await createTask(t.app, alice)
      await req('DELETE', `/v1/tasks/${plain.id}`, alice)
      const bodies: [string, LightMyRequestResponse][] = [
        ['create', created],
        ['get', await req('GET', `/v1/tasks/${id}`, alice)],
        ['patch', await req('PATCH', `/v1/tasks/${id}`, alice, { status: 'done', dueAt: null })],
        ['restore', await req('POST', `/v1/tasks/${plain.id}/restore`, alice)],
      ]
      for (const [name, res] of bodies) {
        assert.equal(res.statusCode, name === 'create' ? 201 : 200, `${name}: ${res.body}`)
        assert.equal(res.headers['content-type'], 'application/json; charset=utf-8', name)
        assert.equal(res.body, await schemaSerialized('task', res.json()), name)
      }
      for (const query of ['ownerId=me&limit=1', 'ownerId=me&deleted=include&sort=-dueAt', 'q=schema']) {
        const list = await req('GET', `/v1/tasks?${query}`, alice)
        assert.equal(list.statusCode, 200, list.body)
        assert.equal(list.headers['content-type'], 'application/json; charset=utf-8', query)
        assert.ok(list.json().items.length > 0, query)
        assert.equal(list.body, await schemaSerialized('list', list.json()), query)
      }
    })

    it('accepts an upper-case id for the same task', async () => {
      const task = await createTask(t.app, alice)
      const res = await req('GET', `/v1/tasks/${task.id.toUpperCase()}`, alice)
      assert.equal(res.statusCode, 200)
      assert.equal(res.json().id, task.id)
    })
  })
}

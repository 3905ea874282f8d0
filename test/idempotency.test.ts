// Idempotency-Key on POST /v1/tasks (API.md §3): replay, reuse with another body,
// in flight, per-user keys and a malformed key header.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  claimIdempotencyKey,
  deleteStaleIdempotencyRecord,
  findIdempotencyRecord,
} from '../src/idempotency/repository.ts'
import { requestFingerprint } from '../src/idempotency/service.ts'
import {
  buildTestApp,
  errorOf,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

for (const engine of testEngines()) {
  describe(`idempotency keys (${engine})`, () => {
    let t: TestApp
    let alice: TestUser
    let bob: TestUser
    before(async () => {
      t = await buildTestApp({}, {}, engine)
      ;[alice, bob] = await Promise.all([registerAndLogin(t.app), registerAndLogin(t.app)])
    })
    after(() => t.close())

    const post = (user: TestUser, key: string, payload: unknown) =>
      t.app.inject({
        method: 'POST',
        url: '/v1/tasks',
        headers: { ...user.auth, 'idempotency-key': key },
        payload: payload as Record<string, unknown>,
      })
    const countMine = async (user: TestUser) =>
      (await t.app.inject({ method: 'GET', url: '/v1/tasks?ownerId=me', headers: user.auth })).json().page
        .total

    it('replays the first response for a retry with the same key and body', async () => {
      const user = await registerAndLogin(t.app)
      const first = await post(user, 'key-1', { title: 'Once', tags: ['a'] })
      assert.equal(first.statusCode, 201)
      assert.equal(first.headers['idempotency-replayed'], undefined)
      const retry = await post(user, 'key-1', { tags: ['a'], title: 'Once' })
      assert.equal(retry.statusCode, 201)
      assert.equal(retry.headers['idempotency-replayed'], 'true')
      assert.deepEqual(retry.json(), first.json())
      assert.equal(retry.headers.location, first.headers.location)
      assert.equal(retry.headers.etag, first.headers.etag)
      assert.equal(await countMine(user), 1)
    })

    it('refuses the same key with another body: 422 IDEMPOTENCY_KEY_REUSED, nothing created', async () => {
      const user = await registerAndLogin(t.app)
      assert.equal((await post(user, 'key-2', { title: 'First' })).statusCode, 201)
      const res = await post(user, 'key-2', { title: 'Second' })
      assert.equal(res.statusCode, 422)
      assert.equal(errorOf(res).code, 'IDEMPOTENCY_KEY_REUSED')
      assert.equal(await countMine(user), 1)
    })

    it('answers 409 IDEMPOTENCY_IN_PROGRESS while the first request is still in flight', async () => {
      const body = { title: 'Slow' }
      const now = new Date()
      const claimed = await claimIdempotencyKey(t.app.database.db, {
        userId: alice.id,
        key: 'in-flight',
        requestHash: requestFingerprint(body),
        now: now.toISOString(),
        expiresAt: new Date(now.getTime() + 3_600_000).toISOString(),
      })
      assert.equal(claimed, true)
      const res = await post(alice, 'in-flight', body)
      assert.equal(res.statusCode, 409)
      assert.equal(errorOf(res).code, 'IDEMPOTENCY_IN_PROGRESS')
      assert.ok(res.headers['retry-after'])
    })

    it('keeps keys per user', async () => {
      const a = await post(alice, 'shared-key', { title: 'Alice' })
      const b = await post(bob, 'shared-key', { title: 'Bob' })
      assert.equal(a.statusCode, 201)
      assert.equal(b.statusCode, 201)
      assert.equal(b.headers['idempotency-replayed'], undefined)
      assert.notEqual(a.json().id, b.json().id)
      assert.equal(b.json().ownerId, bob.id)
    })

    it('creates one task for concurrent requests with the same key', async () => {
      const user = await registerAndLogin(t.app)
      const results = await Promise.all([1, 2, 3].map(() => post(user, 'same-time', { title: 'Racing' })))
      const fresh = results.filter(
        (r) => r.statusCode === 201 && r.headers['idempotency-replayed'] === undefined,
      )
      assert.equal(fresh.length, 1)
      for (const r of results) {
        assert.ok(r.statusCode === 201 || r.statusCode === 409, String(r.statusCode))
        if (r.statusCode === 201) assert.equal(r.json().id, fresh[0]?.json().id)
      }
      assert.equal(await countMine(user), 1)
    })

    // A request that crashed (its instance killed) leaves its key claimed; after a minute a retry takes it over.
    const abandonClaim = async (user: TestUser, key: string, body: unknown) => {
      const then = new Date(Date.now() - 120_000)
      await claimIdempotencyKey(t.app.database.db, {
        userId: user.id,
        key,
        requestHash: requestFingerprint(body),
        now: then.toISOString(),
        expiresAt: new Date(then.getTime() + 3_600_000).toISOString(),
      })
    }

    it('lets concurrent retries of an abandoned key create one task between them', async () => {
      // Rounds, since whether two retries interleave badly depends on timing.
      const user = await registerAndLogin(t.app)
      const body = { title: 'Crashed once' }
      for (let round = 0; round < 10; round++) {
        const key = `abandoned-${round}`
        await abandonClaim(user, key, body)
        const results = await Promise.all(Array.from({ length: 6 }, () => post(user, key, body)))
        const ids = new Set(results.filter((r) => r.statusCode === 201).map((r) => r.json().id))
        assert.equal(ids.size, 1, results.map((r) => r.statusCode).join(' '))
        for (const r of results) assert.ok(r.statusCode === 201 || r.statusCode === 409, String(r.statusCode))
      }
      assert.equal(await countMine(user), 10)
    })

    it('a second retry that saw the abandoned claim does not delete the claim the first made', async () => {
      const user = await registerAndLogin(t.app)
      const body = { title: 'Crashed once' }
      await abandonClaim(user, 'taken-over', body)
      const db = t.app.database.db
      // Both retries read the abandoned claim; the first deletes it and claims the key afresh.
      const seen = await findIdempotencyRecord(db, user.id, 'taken-over')
      assert.ok(seen)
      await deleteStaleIdempotencyRecord(db, user.id, 'taken-over', seen)
      const now = new Date()
      assert.equal(
        await claimIdempotencyKey(db, {
          userId: user.id,
          key: 'taken-over',
          requestHash: requestFingerprint(body),
          now: now.toISOString(),
          expiresAt: new Date(now.getTime() + 3_600_000).toISOString(),
        }),
        true,
      )
      // The second acts on what it read: the first's claim stays, so the second answers 409.
      await deleteStaleIdempotencyRecord(db, user.id, 'taken-over', seen)
      assert.equal((await findIdempotencyRecord(db, user.id, 'taken-over'))?.createdAt, now.toISOString())
      assert.equal((await post(user, 'taken-over', body)).statusCode, 409)
    })

    it('does not keep a key whose request the service refused', async () => {
      const user = await registerAndLogin(t.app)
      // 21 distinct tags pass the schema and are refused by the service, after the key was claimed.
      const tags = Array.from({ length: 21 }, (_, i) => `t${i}`)
      assert.equal((await post(user, 'key-3', { title: 'x', tags })).statusCode, 422)
      const ok = await post(user, 'key-3', { title: 'Fixed' })
      assert.equal(ok.statusCode, 201)
    })

    it('refuses a malformed key header with 422 naming idempotency-key', async () => {
      for (const key of ['x'.repeat(256), 'tab\there', 'ünïcode']) {
        const res = await t.app.inject({
          method: 'POST',
          url: '/v1/tasks',
          headers: { ...alice.auth, 'idempotency-key': key },
          payload: { title: 'x' },
        })
        assert.equal(res.statusCode, 422, key)
        assert.deepEqual(
          errorOf(res).details?.map((d) => d.field),
          ['idempotency-key'],
        )
      }
    })
  })
}

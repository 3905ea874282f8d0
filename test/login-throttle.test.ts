// Login throttling per account and per client address, shared through the database by
// every instance; an unknown email and a wrong password are indistinguishable.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { LoginThrottle } from '../src/auth/throttle.ts'
import { auditActions, secondInstance } from './auth-support.ts'
import {
  buildTestApp,
  errorOf,
  PASSWORD,
  registerAndLogin,
  type TestApp,
  testEngines,
  uniqueEmail,
} from './helpers.ts'

let nowMs = Date.now()
const clock = () => new Date(nowMs)
let address = 0
const nextAddress = () => `10.1.${Math.floor(++address / 250)}.${address % 250}`

for (const engine of testEngines()) {
  describe(`login throttling (${engine})`, () => {
    let t: TestApp
    before(async () => {
      t = await buildTestApp(
        { LOGIN_MAX_FAILURES_PER_ACCOUNT: 3, LOGIN_MAX_FAILURES_PER_ADDRESS: 6, LOGIN_LOCKOUT_SECONDS: 60 },
        { clock },
        engine,
      )
    })
    after(() => t.close())

    const login = (email: string, password: string, remoteAddress = '127.0.0.1', app = t.app) =>
      app.inject({ method: 'POST', url: '/v1/auth/login', payload: { email, password }, remoteAddress })

    it('locks an account after repeated failures, even for the right password, with Retry-After', async () => {
      const user = await registerAndLogin(t.app)
      const from = nextAddress()
      for (let i = 0; i < 3; i++)
        assert.equal((await login(user.email, 'wrong password!!', from)).statusCode, 401)
      const locked = await login(user.email, PASSWORD, nextAddress())
      assert.equal(locked.statusCode, 429)
      assert.equal(errorOf(locked).code, 'TOO_MANY_ATTEMPTS')
      const retryAfter = Number(locked.headers['retry-after'])
      assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After ${retryAfter}`)
      // Every instance of the deployment sees the lock.
      const other = await secondInstance(t)
      try {
        assert.equal((await login(user.email, PASSWORD, nextAddress(), other)).statusCode, 429)
      } finally {
        await other.close()
      }
      nowMs += 61_000
      try {
        assert.equal((await login(user.email, PASSWORD, nextAddress())).statusCode, 200)
        // Success clears the account's count: two more failures do not lock it.
        for (let i = 0; i < 2; i++) await login(user.email, 'wrong password!!', nextAddress())
        assert.equal((await login(user.email, PASSWORD, nextAddress())).statusCode, 200)
      } finally {
        nowMs = Date.now()
      }
    })

    it('treats an unknown email exactly like a wrong password', async () => {
      const user = await registerAndLogin(t.app)
      const wrong = await login(user.email, 'wrong password!!', nextAddress())
      const unknown = await login(uniqueEmail('nobody'), 'wrong password!!', nextAddress())
      assert.equal(wrong.statusCode, 401)
      assert.equal(unknown.statusCode, 401)
      const { requestId: _a, ...wrongBody } = errorOf(wrong)
      const { requestId: _b, ...unknownBody } = errorOf(unknown)
      assert.deepEqual(wrongBody, unknownBody)
      assert.equal(wrong.headers['www-authenticate'], unknown.headers['www-authenticate'])
      // Unknown emails are throttled the same way, so a lockout reveals nothing either.
      const ghost = uniqueEmail('ghost')
      const from = nextAddress()
      for (let i = 0; i < 3; i++) await login(ghost, 'wrong password!!', from)
      assert.equal((await login(ghost, 'wrong password!!', nextAddress())).statusCode, 429)
    })

    it('locks a client address spraying many accounts', async () => {
      const victim = await registerAndLogin(t.app)
      const from = nextAddress()
      for (let i = 0; i < 6; i++) await login(uniqueEmail('spray'), 'wrong password!!', from)
      const res = await login(victim.email, PASSWORD, from)
      assert.equal(res.statusCode, 429)
      assert.ok(Number(res.headers['retry-after']) > 0)
      assert.equal((await login(victim.email, PASSWORD, nextAddress())).statusCode, 200)
    })

    it('counts parallel guesses before checking them: a burst gets no more tries than a sequence', async () => {
      const user = await registerAndLogin(t.app)
      const from = nextAddress()
      // Twelve wrong guesses at once: only the first three (the account's allowance) are checked
      // at all, and the account is then locked, for the right password too.
      const guesses = Array.from({ length: 12 }, (_, i) => `wrong password ${i}!`)
      const answers = await Promise.all(guesses.map((password) => login(user.email, password, from)))
      const statuses = answers.map((res) => res.statusCode)
      assert.equal(statuses.filter((s) => s === 401).length, 3, statuses.join(' '))
      assert.equal(statuses.filter((s) => s === 429).length, 9, statuses.join(' '))
      for (const res of answers.filter((r) => r.statusCode === 429))
        assert.equal(errorOf(res).code, 'TOO_MANY_ATTEMPTS')
      assert.equal((await login(user.email, PASSWORD, nextAddress())).statusCode, 429)
    })

    it('successful logins do not use up the address', async () => {
      // More good logins from one address than the address may fail (6): none is refused.
      const user = await registerAndLogin(t.app)
      const from = nextAddress()
      for (let i = 0; i < 8; i++) assert.equal((await login(user.email, PASSWORD, from)).statusCode, 200)
      // And they did not launder its failures: six failures still lock it.
      for (let i = 0; i < 6; i++) await login(uniqueEmail('spray'), 'wrong password!!', from)
      assert.equal((await login(user.email, PASSWORD, from)).statusCode, 429)
    })

    it('an attempt given back (no verdict reached) counts for neither the account nor the address', async () => {
      const throttle = new LoginThrottle({ maxPerAccount: 3, maxPerAddress: 6, lockoutSeconds: 60 }, clock)
      const email = uniqueEmail('flaky')
      const from = nextAddress()
      const db = t.app.database
      // Three attempts lock the account; giving the last back unlocks it, as if it never came.
      const times = [
        await throttle.reserve(db, email, from),
        await throttle.reserve(db, email, from),
        await throttle.reserve(db, email, from),
      ]
      await assert.rejects(throttle.reserve(db, email, from), /Too many failed logins/)
      await throttle.giveBack(db.db, email, from, times[2] as number)
      const again = await throttle.reserve(db, email, from)
      await throttle.giveBack(db.db, email, from, again)
      const counters = await db.db
        .selectFrom('login_attempts')
        .select(['key', 'failures'])
        .where('key', 'in', [`acct:${email}`, `addr:${from}`])
        .orderBy('key')
        .execute()
      assert.deepEqual(
        counters.map((c) => Number(c.failures)),
        [2, 2],
      )
    })

    it('stale counters are swept', async () => {
      const throttle = new LoginThrottle({ maxPerAccount: 3, maxPerAddress: 6, lockoutSeconds: 60 }, clock)
      await throttle.reserve(t.app.database, uniqueEmail('stale'), nextAddress())
      const count = async () =>
        Number(
          (
            await t.app.database.db
              .selectFrom('login_attempts')
              .select((eb) => eb.fn.countAll().as('n'))
              .executeTakeFirstOrThrow()
          ).n,
        )
      assert.ok((await count()) > 0)
      nowMs += 3_600_000
      try {
        await throttle.prune(t.app.database.db)
        assert.equal(await count(), 0)
      } finally {
        nowMs = Date.now()
      }
    })

    it('audits failures and successes', async () => {
      const actions = await auditActions(t.app)
      assert.ok(actions.includes('login.failed'))
      assert.ok(actions.includes('login.succeeded'))
    })
  })
}

describe('login timing', () => {
  let t: TestApp
  before(async () => {
    t = await buildTestApp({ LOGIN_MAX_FAILURES_PER_ACCOUNT: 1000, LOGIN_MAX_FAILURES_PER_ADDRESS: 100_000 })
  })
  after(() => t.close())

  it('an unknown email costs about as much as a wrong password', async () => {
    const user = await registerAndLogin(t.app)
    const time = async (email: string) => {
      const start = performance.now()
      const res = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email, password: 'wrong password!!' },
      })
      assert.equal(res.statusCode, 401)
      return performance.now() - start
    }
    const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
    const known: number[] = []
    const unknown: number[] = []
    // Warm both paths first (the stand-in hash for missing accounts is made once, on first use),
    // then interleave enough samples that a busy machine moves both medians alike.
    await time(user.email)
    await time(uniqueEmail('nobody'))
    for (let i = 0; i < 15; i++) {
      known.push(await time(user.email))
      unknown.push(await time(uniqueEmail('nobody')))
    }
    const ratio = median(unknown) / median(known)
    assert.ok(ratio > 0.5 && ratio < 2, `unknown/known median time ratio ${ratio.toFixed(2)}`)
  })
})

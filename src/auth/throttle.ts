// Login throttling per account (email, known or not) and per client address.
// The counters live in the database so every instance of a deployment shares them,
// on both engines; taking an attempt is one transaction of two atomic upserts.
import { sql } from 'kysely'
import { type Database, type Executor, runInTransaction } from '../db/database.ts'
import { ApiError } from '../errors.ts'
import type { Clock } from '../time.ts'

export interface ThrottleSettings {
  maxPerAccount: number
  maxPerAddress: number
  lockoutSeconds: number
}

const accountKey = (email: string) => `acct:${email}`
const addressKey = (address: string) => `addr:${address}`

/** Thrown inside the reserving transaction to roll it back when a counter is locked. */
const LOCKED = Symbol('locked')

export class LoginThrottle {
  readonly #settings: ThrottleSettings
  readonly #clock: Clock

  constructor(settings: ThrottleSettings, clock: Clock) {
    this.#settings = settings
    this.#clock = clock
  }

  /**
   * Takes one attempt from the account's and the address's allowance before the password is
   * checked, or throws 429 TOO_MANY_ATTEMPTS (with Retry-After) while either is locked. Every
   * attempt counts as a failure until `release` says it succeeded: counted after the (slow)
   * password check, a burst of parallel guesses was all checked before the first was counted.
   * Returns the time the attempt was counted at, for `release`.
   */
  async reserve(database: Database, email: string, address: string): Promise<number> {
    const now = this.#clock().getTime()
    const keys = [accountKey(email), addressKey(address)] as const
    const counted = await runInTransaction(database, async (trx) => {
      const byAccount = await this.#take(trx, keys[0], this.#settings.maxPerAccount, now)
      const byAddress = await this.#take(trx, keys[1], this.#settings.maxPerAddress, now)
      // Either one locked: roll both back (neither counts) and refuse.
      if (!byAccount || !byAddress) throw LOCKED
      return true
    }).catch((error: unknown) => {
      if (error === LOCKED) return false
      throw error
    })
    if (counted) return now
    const rows = await database.db
      .selectFrom('login_attempts')
      .select('locked_until_ms')
      .where('key', 'in', [...keys])
      .execute()
    const lockedUntil = Math.max(0, ...rows.map((r) => Number(r.locked_until_ms)))
    const seconds = Math.max(1, Math.ceil((lockedUntil - now) / 1000))
    throw new ApiError('TOO_MANY_ATTEMPTS', `Too many failed logins; try again in ${seconds} s`, {
      headers: { 'retry-after': String(seconds) },
    })
  }

  /** The attempt `reserve` counted failed: it stays counted. About one in fifty also sweeps stale counters. */
  async recordFailure(db: Executor): Promise<void> {
    // Rows for sprayed, made-up emails would pile up. The table only ever holds recent
    // failures, so the sweep stays small without a background job.
    if (Math.random() < 0.02) await this.prune(db)
  }

  /**
   * The attempt `reserve` counted at `reservedAt` succeeded: the account's failures are cleared,
   * and the address gets its attempt back (only its failures count: one good account must not
   * launder a spray), unlocked if the attempt was what locked it.
   */
  async release(db: Executor, email: string, address: string, reservedAt: number): Promise<void> {
    await db.deleteFrom('login_attempts').where('key', '=', accountKey(email)).execute()
    await this.#giveBackOne(db, addressKey(address), this.#settings.maxPerAddress, reservedAt)
  }

  /**
   * The attempt `reserve` counted at `reservedAt` reached no verdict (the database or the password
   * check failed): it is not a failure, so both counters get it back.
   */
  async giveBack(db: Executor, email: string, address: string, reservedAt: number): Promise<void> {
    await this.#giveBackOne(db, accountKey(email), this.#settings.maxPerAccount, reservedAt)
    await this.#giveBackOne(db, addressKey(address), this.#settings.maxPerAddress, reservedAt)
  }

  /** One attempt less on `key`, unlocking it if that takes it under `max`; only in the window it was counted in. */
  async #giveBackOne(db: Executor, key: string, max: number, reservedAt: number): Promise<void> {
    await sql`UPDATE login_attempts SET
        failures = failures - 1,
        locked_until_ms = CASE WHEN failures - 1 < ${max} THEN 0 ELSE locked_until_ms END
      WHERE key = ${key} AND failures > 0 AND window_started_ms <= ${reservedAt}`.execute(db)
  }

  /** Deletes counters whose window and lock have both passed. */
  async prune(db: Executor): Promise<void> {
    const now = this.#clock().getTime()
    await db
      .deleteFrom('login_attempts')
      .where('locked_until_ms', '<', now)
      .where('window_started_ms', '<', now - this.#settings.lockoutSeconds * 1000)
      .execute()
  }

  /**
   * Counts one attempt against `key` unless it is locked; whether it was counted. Attempts
   * outside the window start a new count; reaching `max` inside it locks for one window.
   */
  async #take(db: Executor, key: string, max: number, now: number): Promise<boolean> {
    const windowMs = this.#settings.lockoutSeconds * 1000
    const windowStart = now - windowMs
    const lockUntil = now + windowMs
    const initialLock = max <= 1 ? lockUntil : 0
    const fresh = sql`login_attempts.window_started_ms <= ${windowStart}`
    const { rows } = await sql`INSERT INTO login_attempts (key, failures, window_started_ms, locked_until_ms)
      VALUES (${key}, 1, ${now}, ${initialLock})
      ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN ${fresh} THEN 1 ELSE login_attempts.failures + 1 END,
        locked_until_ms = CASE
          WHEN (CASE WHEN ${fresh} THEN 1 ELSE login_attempts.failures + 1 END) >= ${max}
          THEN ${lockUntil} ELSE login_attempts.locked_until_ms END,
        window_started_ms = CASE WHEN ${fresh} THEN ${now} ELSE login_attempts.window_started_ms END
      WHERE login_attempts.locked_until_ms <= ${now}
      RETURNING key`.execute(db)
    return rows.length > 0
  }
}

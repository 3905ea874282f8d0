// Login throttling per account (email, known or not) and per client address.
// The counters live in the database so every instance of a deployment shares them,
// on both engines; each failure is one atomic upsert.
import { sql } from 'kysely'
import type { Executor } from '../db/database.ts'
import { ApiError } from '../errors.ts'
import type { Clock } from '../time.ts'

export interface ThrottleSettings {
  maxPerAccount: number
  maxPerAddress: number
  lockoutSeconds: number
}

const accountKey = (email: string) => `acct:${email}`
const addressKey = (address: string) => `addr:${address}`

export class LoginThrottle {
  readonly #settings: ThrottleSettings
  readonly #clock: Clock

  constructor(settings: ThrottleSettings, clock: Clock) {
    this.#settings = settings
    this.#clock = clock
  }

  /** Throws 429 TOO_MANY_ATTEMPTS (with Retry-After) while the account or the address is locked. */
  async check(db: Executor, email: string, address: string): Promise<void> {
    const now = this.#clock().getTime()
    const rows = await db
      .selectFrom('login_attempts')
      .select('locked_until_ms')
      .where('key', 'in', [accountKey(email), addressKey(address)])
      .execute()
    const lockedUntil = Math.max(0, ...rows.map((r) => Number(r.locked_until_ms)))
    if (lockedUntil > now) {
      const seconds = Math.max(1, Math.ceil((lockedUntil - now) / 1000))
      throw new ApiError('TOO_MANY_ATTEMPTS', `Too many failed logins; try again in ${seconds} s`, {
        headers: { 'retry-after': String(seconds) },
      })
    }
  }

  async recordFailure(db: Executor, email: string, address: string): Promise<void> {
    await this.#bump(db, accountKey(email), this.#settings.maxPerAccount)
    await this.#bump(db, addressKey(address), this.#settings.maxPerAddress)
    // Rows for sprayed, made-up emails would pile up; about one failure in fifty sweeps the stale ones.
    // The table only ever holds recent failures, so the sweep stays small without a background job.
    if (Math.random() < 0.02) await this.prune(db)
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

  /** A successful login clears the account's failures (not the address's: one good account must not launder a spray). */
  async recordSuccess(db: Executor, email: string): Promise<void> {
    await db.deleteFrom('login_attempts').where('key', '=', accountKey(email)).execute()
  }

  async #bump(db: Executor, key: string, max: number): Promise<void> {
    const now = this.#clock().getTime()
    const windowMs = this.#settings.lockoutSeconds * 1000
    const windowStart = now - windowMs
    const lockUntil = now + windowMs
    const initialLock = max <= 1 ? lockUntil : 0
    // Failures outside the window start a new count; reaching `max` inside it locks for one window.
    await sql`INSERT INTO login_attempts (key, failures, window_started_ms, locked_until_ms)
      VALUES (${key}, 1, ${now}, ${initialLock})
      ON CONFLICT (key) DO UPDATE SET
        failures = CASE WHEN login_attempts.window_started_ms <= ${windowStart} THEN 1 ELSE login_attempts.failures + 1 END,
        locked_until_ms = CASE
          WHEN (CASE WHEN login_attempts.window_started_ms <= ${windowStart} THEN 1 ELSE login_attempts.failures + 1 END) >= ${max}
          THEN ${lockUntil} ELSE login_attempts.locked_until_ms END,
        window_started_ms = CASE WHEN login_attempts.window_started_ms <= ${windowStart} THEN ${now} ELSE login_attempts.window_started_ms END`.execute(
      db,
    )
  }
}

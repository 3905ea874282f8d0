// Registration, login (throttled, audited), refresh-token rotation with reuse
// detection, logout and the current user. Knows no HTTP.
import type { AuditLog } from '../audit/recorder.ts'
import { type Database, type Executor, runInTransaction } from '../db/database.ts'
import { isUniqueViolation } from '../db/errors.ts'
import { ApiError, type ErrorDetail, validationFailed } from '../errors.ts'
import { uuidv7 } from '../ids.ts'
import type { Clock } from '../time.ts'
import { hashForMissingAccount, hashPassword, verifyPassword } from './passwords.ts'
import {
  findRefreshToken,
  findUserByEmail,
  findUserById,
  insertRefreshToken,
  insertUser,
  revokeFamily,
  spendRefreshToken,
  type User,
} from './repository.ts'
import { type Principal, type RequestOrigin, type Role, scopesForRole } from './scopes.ts'
import type { LoginThrottle } from './throttle.ts'
import { type AccessTokens, hashOpaqueToken, invalidToken, newOpaqueToken } from './tokens.ts'

export interface TokenPair {
  accessToken: string
  tokenType: 'Bearer'
  expiresIn: number
  refreshToken: string
}

// Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is the mail server's business.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
const REFRESH_TOKEN = /^rt_[A-Za-z0-9_-]{43}$/

/**
 * Trimmed, lower-cased and in Unicode Normalization Form C (RFC 6532 §3.1), so an address
 * typed with a precomposed letter and with a combining mark is one account.
 */
export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase().normalize('NFC')
}

/** A refresh token that is unknown, spent, revoked or expired: no header, the route is not Bearer-protected. */
const badRefreshToken = () => new ApiError('INVALID_TOKEN', 'Refresh token is invalid, expired or revoked')

export class AuthService {
  readonly #database: Database
  readonly #tokens: AccessTokens
  readonly #clock: Clock
  readonly #refreshTtlSeconds: number
  readonly #audit: AuditLog
  readonly #throttle: LoginThrottle

  constructor(deps: {
    database: Database
    tokens: AccessTokens
    clock: Clock
    refreshTtlSeconds: number
    audit: AuditLog
    throttle: LoginThrottle
  }) {
    this.#database = deps.database
    this.#tokens = deps.tokens
    this.#clock = deps.clock
    this.#refreshTtlSeconds = deps.refreshTtlSeconds
    this.#audit = deps.audit
    this.#throttle = deps.throttle
  }

  /** Creates an account; the public API always makes `user`s, the command line may make admins. */
  async register(
    input: { email: string; password: string; name: string },
    origin?: RequestOrigin,
    role: Role = 'user',
  ): Promise<User> {
    const email = normaliseEmail(input.email)
    const name = input.name.trim()
    const details: ErrorDetail[] = []
    // Counted as the schema counts it (code points of the trimmed input), so an address the
    // schema took is not refused here on its own, and as it is stored (lower-casing can lengthen:
    // İ is two code points in lower case).
    if (!EMAIL.test(email) || [...input.email.trim()].length > 254 || [...email].length > 254)
      details.push({ field: 'email', message: 'must be a valid email address' })
    if ([...input.password].length < 12)
      details.push({ field: 'password', message: 'must be at least 12 characters' })
    if ([...input.password].length > 256)
      details.push({ field: 'password', message: 'must be at most 256 characters' })
    if (name.length < 1) details.push({ field: 'name', message: 'must not be empty' })
    // Characters are code points, as in the schema (an emoji is one character, not two).
    if ([...name].length > 100) details.push({ field: 'name', message: 'must be at most 100 characters' })
    if (details.length > 0) throw validationFailed(details, 'Request body is invalid')

    const passwordHash = await hashPassword(input.password)
    try {
      return await runInTransaction(this.#database, async (trx) => {
        const user = await insertUser(trx, {
          id: uuidv7(),
          email,
          name,
          role,
          passwordHash,
          now: this.#clock().toISOString(),
        })
        await this.#audit.record(trx, {
          action: origin ? 'user.registered' : 'user.created',
          actorId: origin ? user.id : null,
          targetType: 'user',
          targetId: user.id,
          origin,
          details: { role },
        })
        return user
      })
    } catch (error) {
      if (isUniqueViolation(error))
        throw new ApiError('EMAIL_TAKEN', 'An account with this email already exists')
      throw error
    }
  }

  /**
   * Same answer, and about the same time, for an unknown email and a wrong password:
   * both verify an argon2 hash, both count against the email and the address.
   */
  async login(input: { email: string; password: string }, origin: RequestOrigin): Promise<TokenPair> {
    const email = normaliseEmail(input.email)
    const reservedAt = await this.#throttle.reserve(this.#database, email, origin.address)
    // An attempt that reaches no verdict (the database failing mid-way) is not a failure.
    const noVerdict = async (error: unknown): Promise<never> => {
      await this.#throttle.giveBack(this.#database.db, email, origin.address, reservedAt).catch(() => {})
      throw error
    }
    const user = await findUserByEmail(this.#database.db, email).catch(noVerdict)
    const stored = user?.passwordHash ?? (await hashForMissingAccount().catch(noVerdict))
    const ok = await verifyPassword(input.password, stored).catch(noVerdict)
    if (!user?.passwordHash || !ok) {
      await runInTransaction(this.#database, async (trx) => {
        await this.#throttle.recordFailure(trx)
        await this.#audit.record(trx, {
          action: 'login.failed',
          actorId: null,
          targetType: 'user',
          ...(user ? { targetId: user.id } : {}),
          origin,
        })
      })
      throw new ApiError('INVALID_CREDENTIALS', 'Email or password is incorrect')
    }
    return this.#issuePair(user, uuidv7(), async (trx) => {
      await this.#throttle.release(trx, email, origin.address, reservedAt)
      await this.#audit.record(trx, {
        action: 'login.succeeded',
        actorId: user.id,
        targetType: 'user',
        targetId: user.id,
        origin,
      })
    }).catch(noVerdict)
  }

  /** Rotates a refresh token. A spent one is a sign of theft: the whole family is revoked (and audited). */
  async refresh(refreshToken: string, origin: RequestOrigin): Promise<TokenPair> {
    if (!REFRESH_TOKEN.test(refreshToken)) throw badRefreshToken()
    const now = this.#clock()
    const outcome = await runInTransaction(this.#database, async (trx) => {
      const row = await findRefreshToken(trx, hashOpaqueToken(refreshToken))
      if (!row || row.revokedAt !== null || Date.parse(row.expiresAt) <= now.getTime())
        return { kind: 'invalid' } as const
      if (row.usedAt !== null || !(await spendRefreshToken(trx, row.id, now.toISOString()))) {
        await revokeFamily(trx, row.familyId, now.toISOString())
        await this.#audit.record(trx, {
          action: 'refresh.reused',
          actorId: null,
          targetType: 'session',
          targetId: row.familyId,
          origin,
          details: { userId: row.userId },
        })
        return { kind: 'reused' } as const
      }
      return { kind: 'ok', userId: row.userId, familyId: row.familyId } as const
    })
    if (outcome.kind === 'reused') this.#tokens.forgetSessions()
    if (outcome.kind !== 'ok') throw badRefreshToken()
    const user = await findUserById(this.#database.db, outcome.userId)
    if (!user) throw badRefreshToken()
    return this.#issuePair(user, outcome.familyId)
  }

  /** Ends the session a refresh token belongs to. Unknown or foreign tokens change nothing (no oracle). */
  async logout(principal: Principal, refreshToken: string): Promise<void> {
    if (!REFRESH_TOKEN.test(refreshToken)) return
    const now = this.#clock().toISOString()
    await runInTransaction(this.#database, async (trx) => {
      const row = await findRefreshToken(trx, hashOpaqueToken(refreshToken))
      if (!row || row.userId !== principal.userId || row.revokedAt !== null) return
      await revokeFamily(trx, row.familyId, now)
      await this.#audit.record(trx, {
        action: 'logout',
        actorId: principal.userId,
        targetType: 'session',
        targetId: row.familyId,
        origin: principal.origin,
      })
    })
    this.#tokens.forgetSessions()
  }

  async currentUser(principal: Principal): Promise<User> {
    const user = await findUserById(this.#database.db, principal.userId)
    if (!user) throw invalidToken('The account this token belongs to no longer exists')
    const { passwordHash: _omit, ...publicUser } = user
    return publicUser
  }

  async #issuePair(
    user: User,
    familyId: string,
    alsoInTransaction?: (trx: Executor) => Promise<void>,
  ): Promise<TokenPair> {
    const now = this.#clock()
    const refreshToken = newOpaqueToken('rt_')
    // Signed before the commit, so nothing can fail once the session exists: a login given back
    // to the throttle on failure (login's noVerdict) has then never succeeded. Until the commit
    // the token names a session that does not exist yet, and it is returned only after it.
    const accessToken = await this.#tokens.issue(user, scopesForRole(user.role), familyId)
    await runInTransaction(this.#database, async (trx) => {
      await insertRefreshToken(trx, {
        id: uuidv7(),
        userId: user.id,
        familyId,
        tokenHash: hashOpaqueToken(refreshToken),
        now: now.toISOString(),
        expiresAt: new Date(now.getTime() + this.#refreshTtlSeconds * 1000).toISOString(),
      })
      if (alsoInTransaction) await alsoInTransaction(trx)
    })
    return { accessToken, tokenType: 'Bearer', expiresIn: this.#tokens.ttlSeconds, refreshToken }
  }
}

// Registration, login and the current user. Knows no HTTP.
import { v7 as uuidv7 } from 'uuid'
import { type Database, runInTransaction } from '../db/database.ts'
import { isUniqueViolation } from '../db/errors.ts'
import { ApiError, type ErrorDetail, validationFailed } from '../errors.ts'
import type { Clock } from '../time.ts'
import { hashForMissingAccount, hashPassword, verifyPassword } from './passwords.ts'
import { findUserByEmail, findUserById, insertRefreshToken, insertUser, type User } from './repository.ts'
import { type Principal, scopesForRole } from './scopes.ts'
import { type AccessTokens, hashOpaqueToken, invalidToken, newOpaqueToken } from './tokens.ts'

export interface TokenPair {
  accessToken: string
  tokenType: 'Bearer'
  expiresIn: number
  refreshToken: string
}

// Deliberately simple: one @, no spaces, a dot in the domain. Deliverability is the mail server's business.
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

export function normaliseEmail(email: string): string {
  return email.trim().toLowerCase()
}

export class AuthService {
  readonly #database: Database
  readonly #tokens: AccessTokens
  readonly #clock: Clock
  readonly #refreshTtlSeconds: number

  constructor(deps: { database: Database; tokens: AccessTokens; clock: Clock; refreshTtlSeconds: number }) {
    this.#database = deps.database
    this.#tokens = deps.tokens
    this.#clock = deps.clock
    this.#refreshTtlSeconds = deps.refreshTtlSeconds
  }

  async register(input: { email: string; password: string; name: string }): Promise<User> {
    const email = normaliseEmail(input.email)
    const name = input.name.trim()
    const details: ErrorDetail[] = []
    if (!EMAIL.test(email) || email.length > 254)
      details.push({ field: 'email', message: 'must be a valid email address' })
    if ([...input.password].length < 12)
      details.push({ field: 'password', message: 'must be at least 12 characters' })
    if ([...input.password].length > 256)
      details.push({ field: 'password', message: 'must be at most 256 characters' })
    if (name.length < 1) details.push({ field: 'name', message: 'must not be empty' })
    if (name.length > 100) details.push({ field: 'name', message: 'must be at most 100 characters' })
    if (details.length > 0) throw validationFailed(details, 'Request body is invalid')

    const passwordHash = await hashPassword(input.password)
    try {
      return await insertUser(this.#database.db, {
        id: uuidv7(),
        email,
        name,
        role: 'user',
        passwordHash,
        now: this.#clock().toISOString(),
      })
    } catch (error) {
      if (isUniqueViolation(error))
        throw new ApiError('EMAIL_TAKEN', 'An account with this email already exists')
      throw error
    }
  }

  /** Same answer, and about the same time, for an unknown email and a wrong password. */
  async login(input: { email: string; password: string }): Promise<TokenPair> {
    const user = await findUserByEmail(this.#database.db, normaliseEmail(input.email))
    const stored = user?.passwordHash ?? (await hashForMissingAccount())
    const ok = await verifyPassword(input.password, stored)
    if (!user?.passwordHash || !ok) {
      throw new ApiError('INVALID_CREDENTIALS', 'Email or password is incorrect')
    }
    return this.#issuePair(user, uuidv7())
  }

  async currentUser(principal: Principal): Promise<User> {
    const user = await findUserById(this.#database.db, principal.userId)
    if (!user) throw invalidToken('The account this token belongs to no longer exists')
    const { passwordHash: _omit, ...publicUser } = user
    return publicUser
  }

  async #issuePair(user: User, familyId: string): Promise<TokenPair> {
    const now = this.#clock()
    const refreshToken = newOpaqueToken('rt_')
    await runInTransaction(this.#database, (trx) =>
      insertRefreshToken(trx, {
        id: uuidv7(),
        userId: user.id,
        familyId,
        tokenHash: hashOpaqueToken(refreshToken),
        now: now.toISOString(),
        expiresAt: new Date(now.getTime() + this.#refreshTtlSeconds * 1000).toISOString(),
      }),
    )
    const accessToken = await this.#tokens.issue(user, scopesForRole(user.role))
    return { accessToken, tokenType: 'Bearer', expiresIn: this.#tokens.ttlSeconds, refreshToken }
  }
}

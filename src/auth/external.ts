// Access tokens from an external OpenID Connect provider (AUTH_JWKS_URL,
// AUTH_ISSUER, AUTH_AUDIENCE): verified against the provider's JWKS (jose's
// remote key set, cached with a cooldown), mapped to a local account keyed by
// (issuer, subject) and created on first sight. Never linked to an existing
// password account by email: an email claim is not proof of owning that account.
import { createRemoteJWKSet, decodeJwt, type JWTPayload, errors as joseErrors, jwtVerify } from 'jose'
import type { AuditLog } from '../audit/recorder.ts'
import type { Config } from '../config.ts'
import { type Database, runInTransaction } from '../db/database.ts'
import { isUniqueViolation } from '../db/errors.ts'
import { ApiError, serviceUnavailable } from '../errors.ts'
import { uuidv7 } from '../ids.ts'
import type { Clock } from '../time.ts'
import { insertUser } from './repository.ts'
import { effectiveScopes, type Principal, type Role } from './scopes.ts'
import { normaliseEmail } from './service.ts'
import { BoundedCache, invalidToken, type SessionCheck } from './tokens.ts'

export interface ExternalProviderSettings {
  jwksUrl: string
  issuer: string
  audience: string
  scopeClaim: string
  roleClaim: string | undefined
  algorithms: string[]
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/

export class ExternalTokens {
  readonly #settings: ExternalProviderSettings
  readonly #database: Database
  readonly #audit: AuditLog
  readonly #clock: Clock
  readonly #checkUser: SessionCheck
  readonly #jwks: ReturnType<typeof createRemoteJWKSet>
  readonly #users = new BoundedCache<string>(10_000)
  readonly #verified = new BoundedCache<{
    subject: string
    role: Role | undefined
    scopes: string[]
    expiresAtMs: number
  }>(10_000)

  constructor(deps: {
    settings: ExternalProviderSettings
    database: Database
    audit: AuditLog
    clock: Clock
    checkUser: SessionCheck
  }) {
    this.#settings = deps.settings
    this.#database = deps.database
    this.#audit = deps.audit
    this.#clock = deps.clock
    this.#checkUser = deps.checkUser
    this.#jwks = createRemoteJWKSet(new URL(deps.settings.jwksUrl), {
      timeoutDuration: 5000,
      cooldownDuration: 30_000,
    })
  }

  /** Whether a bearer token claims to come from the external provider (checked properly by verify). */
  claims(token: string): boolean {
    try {
      return decodeJwt(token).iss === this.#settings.issuer
    } catch {
      return false
    }
  }

  async verify(token: string): Promise<Principal> {
    const nowMs = Date.now()
    let verified = this.#verified.get(token)
    if (verified && verified.expiresAtMs <= nowMs) {
      this.#verified.delete(token)
      throw invalidToken()
    }
    if (!verified) {
      const payload = await this.#verifySignature(token)
      verified = {
        subject: payload.sub as string,
        role: this.#roleOf(payload),
        scopes: this.#scopesOf(payload),
        expiresAtMs: Number(payload.exp) * 1000,
      }
      const userId = await this.#userFor(payload)
      this.#users.set(verified.subject, userId)
      this.#verified.set(token, verified)
    }
    const userId = this.#users.get(verified.subject) ?? (await this.#userFor({ sub: verified.subject }))
    const live = await this.#checkUser(userId, undefined)
    if (!live) {
      this.#users.delete(verified.subject)
      this.#verified.delete(token)
      throw invalidToken('The account this token belongs to no longer exists')
    }
    const role = verified.role ?? live.role
    return { userId, role, scopes: effectiveScopes(role, verified.scopes), via: 'session' }
  }

  async #verifySignature(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, this.#jwks, {
        algorithms: this.#settings.algorithms,
        issuer: this.#settings.issuer,
        audience: this.#settings.audience,
        requiredClaims: ['sub', 'exp'],
      })
      if (typeof payload.sub !== 'string' || payload.sub.length === 0 || payload.sub.length > 255)
        throw invalidToken()
      return payload
    } catch (error) {
      if (error instanceof ApiError) throw error
      // The provider's key endpoint being unreachable (a timeout, or a network error, which is no
      // JOSEError) is our outage, not the client's bad token.
      if (!(error instanceof joseErrors.JOSEError) || error.code === 'ERR_JWKS_TIMEOUT')
        throw serviceUnavailable('The identity provider is not answering')
      throw invalidToken()
    }
  }

  #roleOf(payload: JWTPayload): Role | undefined {
    const claim = this.#settings.roleClaim
    if (!claim) return undefined
    const value = payload[claim]
    const values = Array.isArray(value) ? value : [value]
    return values.includes('admin') ? 'admin' : 'user'
  }

  #scopesOf(payload: JWTPayload): string[] {
    // No scope claim means no scopes: least privilege (the provider must grant them explicitly).
    const value = payload[this.#settings.scopeClaim]
    if (typeof value === 'string') return value.split(' ').filter(Boolean)
    if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string')
    return []
  }

  /** The local account for (issuer, subject), created on first sight. */
  async #userFor(payload: JWTPayload): Promise<string> {
    const subject = payload.sub as string
    const existing = await this.#findIdentity(subject)
    if (existing) return existing
    const now = this.#clock().toISOString()
    const claimedEmail = typeof payload.email === 'string' ? normaliseEmail(payload.email) : ''
    const taken = EMAIL.test(claimedEmail)
      ? await this.#database.db
          .selectFrom('users')
          .select('id')
          .where('email', '=', claimedEmail)
          .executeTakeFirst()
      : undefined
    const id = uuidv7()
    const email =
      EMAIL.test(claimedEmail) && !taken && claimedEmail.length <= 254
        ? claimedEmail
        : `${id}@external.invalid`
    const name =
      typeof payload.name === 'string' && payload.name.trim()
        ? payload.name.trim().slice(0, 100)
        : subject.slice(0, 100)
    try {
      await runInTransaction(this.#database, async (trx) => {
        await insertUser(trx, { id, email, name, role: 'user', passwordHash: null, now })
        await trx
          .insertInto('identities')
          .values({ issuer: this.#settings.issuer, subject, user_id: id, created_at: now })
          .execute()
        await this.#audit.record(trx, {
          action: 'user.created',
          actorId: null,
          targetType: 'user',
          targetId: id,
          details: { issuer: this.#settings.issuer, subject },
        })
      })
      return id
    } catch (error) {
      // Another request (or instance) created it first.
      if (!isUniqueViolation(error)) throw error
      const raced = await this.#findIdentity(subject)
      if (!raced) throw error
      return raced
    }
  }

  async #findIdentity(subject: string): Promise<string | undefined> {
    const row = await this.#database.db
      .selectFrom('identities')
      .select('user_id')
      .where('issuer', '=', this.#settings.issuer)
      .where('subject', '=', subject)
      .executeTakeFirst()
    return row?.user_id
  }
}

/** The external OpenID Connect provider, when AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE are all set. */
export function externalProvider(
  config: Config,
  deps: Omit<ConstructorParameters<typeof ExternalTokens>[0], 'settings'>,
): ExternalTokens | undefined {
  const { AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: issuer, AUTH_AUDIENCE: audience } = config
  // loadConfig has checked that the three are set together, and the algorithms.
  if (!jwksUrl || !issuer || !audience) return undefined
  const algorithms = config.AUTH_ALGORITHMS.split(',')
    .map((a) => a.trim())
    .filter(Boolean)
  return new ExternalTokens({
    ...deps,
    settings: {
      jwksUrl,
      issuer,
      audience,
      scopeClaim: config.AUTH_SCOPE_CLAIM,
      roleClaim: config.AUTH_ROLE_CLAIM,
      algorithms,
    },
  })
}

// Access tokens: JWTs signed with the active database key, verified with a pinned
// algorithm, issuer, audience and key set. Verified tokens are cached until they
// expire so the hot path pays one signature check per token, not per request; the
// account and session (refresh family) behind a token are re-checked at most every
// few seconds, so deleting a user or revoking a session takes effect promptly.
import { createHash, randomBytes } from 'node:crypto'
import { jwtVerify, SignJWT } from 'jose'
import { ApiError } from '../errors.ts'
import { uuidv7 } from '../ids.ts'
import type { SigningKeys } from './keys.ts'
import { effectiveScopes, isRole, type Principal, type Role } from './scopes.ts'

export interface TokenSettings {
  issuer: string
  audience: string
  accessTtlSeconds: number
  /** How long a live-session check is reused (CREDENTIAL_RECHECK_MS). */
  recheckMs: number
}

/** Answers whether the account (and session) behind a token is still live, and the account's role now. */
export type SessionCheck = (
  userId: string,
  sessionId: string | undefined,
) => Promise<{ role: Role } | undefined>

const VERIFIED_CACHE_MAX = 10_000

export const invalidToken = (message = 'Access token is invalid or expired') =>
  new ApiError('INVALID_TOKEN', message, { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } })

/** How far instances' clocks may disagree: a token's times are judged this leniently. */
const CLOCK_TOLERANCE_SECONDS = 5

interface Verified {
  userId: string
  scopes: string[]
  sessionId: string | undefined
  expiresAtMs: number
}

/** A small bounded map: evicts the oldest entry when full. */
export class BoundedCache<V> extends Map<string, V> {
  readonly #max: number
  constructor(max: number) {
    super()
    this.#max = max
  }
  override set(key: string, value: V): this {
    if (this.size >= this.#max && !this.has(key)) {
      const oldest = this.keys().next().value
      if (oldest !== undefined) this.delete(oldest)
    }
    return super.set(key, value)
  }
}

export class AccessTokens {
  readonly #settings: TokenSettings
  readonly #keys: SigningKeys
  readonly #checkSession: SessionCheck
  readonly #verified = new BoundedCache<Verified>(VERIFIED_CACHE_MAX)
  readonly #sessions = new BoundedCache<{ role: Role | undefined; checkedAtMs: number }>(VERIFIED_CACHE_MAX)

  constructor(settings: TokenSettings, keys: SigningKeys, checkSession: SessionCheck) {
    this.#settings = settings
    this.#keys = keys
    this.#checkSession = checkSession
  }

  get ttlSeconds(): number {
    return this.#settings.accessTtlSeconds
  }

  async jwks() {
    await this.#keys.refreshIfStale()
    return this.#keys.jwks()
  }

  async issue(
    user: { id: string; role: Role },
    scopes: readonly string[],
    sessionId: string,
  ): Promise<string> {
    await this.#keys.refreshIfStale()
    const key = this.#keys.active
    return new SignJWT({ role: user.role, scope: scopes.join(' '), sid: sessionId })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'JWT' })
      .setIssuer(this.#settings.issuer)
      .setAudience(this.#settings.audience)
      .setSubject(user.id)
      .setJti(uuidv7())
      .setIssuedAt()
      .setExpirationTime(`${this.#settings.accessTtlSeconds}s`)
      .sign(key.privateKey)
  }

  /** Forgets cached session checks, after this instance revoked a session or changed a role. */
  forgetSessions(): void {
    this.#sessions.clear()
  }

  /** Verifies a JWT access token; throws INVALID_TOKEN for anything wrong with it. */
  async verify(token: string): Promise<Principal> {
    const now = Date.now()
    let verified = this.#verified.get(token)
    if (verified && verified.expiresAtMs <= now) {
      this.#verified.delete(token)
      throw invalidToken()
    }
    if (!verified) {
      verified = await this.#verifySignature(token)
      this.#verified.set(token, verified)
    }
    const role = await this.#liveRole(verified.userId, verified.sessionId, now)
    if (!role) throw invalidToken('This session has ended or its account no longer exists')
    return {
      userId: verified.userId,
      role,
      scopes: effectiveScopes(role, verified.scopes),
      via: 'session',
      ...(verified.sessionId ? { sessionId: verified.sessionId } : {}),
    }
  }

  async #verifySignature(token: string): Promise<Verified> {
    await this.#keys.refreshIfStale()
    let payload: Record<string, unknown>
    try {
      ;({ payload } = await jwtVerify(token, this.#keys.resolve, {
        algorithms: ['EdDSA'],
        issuer: this.#settings.issuer,
        audience: this.#settings.audience,
        typ: 'JWT',
        // Every token this service issues names its session; none lives longer than the TTL,
        // whatever its exp says, and none was issued in the future (defence should a signing
        // key ever leak: a forged token gets no more than a real one).
        requiredClaims: ['sub', 'exp', 'iat', 'jti', 'sid'],
        maxTokenAge: this.#settings.accessTtlSeconds,
        clockTolerance: CLOCK_TOLERANCE_SECONDS,
      }))
    } catch {
      throw invalidToken()
    }
    const { role, scope, sub, sid } = payload
    if (!isRole(role) || typeof scope !== 'string' || typeof sub !== 'string' || typeof sid !== 'string') {
      throw invalidToken()
    }
    return {
      userId: sub,
      scopes: scope.split(' ').filter(Boolean),
      sessionId: sid,
      expiresAtMs:
        Math.min(
          Number(payload.exp),
          Number(payload.iat) + this.#settings.accessTtlSeconds + CLOCK_TOLERANCE_SECONDS,
        ) * 1000,
    }
  }

  async #liveRole(userId: string, sessionId: string | undefined, now: number): Promise<Role | undefined> {
    const key = `${userId}:${sessionId ?? ''}`
    const cached = this.#sessions.get(key)
    if (cached && now - cached.checkedAtMs < this.#settings.recheckMs) return cached.role
    const live = await this.#checkSession(userId, sessionId)
    this.#sessions.set(key, { role: live?.role, checkedAtMs: now })
    return live?.role
  }
}

/** Opaque high-entropy secrets (refresh tokens, API tokens) and the hash they are stored under. */
export function newOpaqueToken(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`
}

export function hashOpaqueToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

// Access tokens: JWTs signed with the Ed25519 key, verified with a pinned
// algorithm, issuer, audience and key set. Verified tokens are cached until
// they expire so a hot path pays for one signature check per token, not per request.
import { createHash, randomBytes } from 'node:crypto'
import { createLocalJWKSet, type JSONWebKeySet, jwtVerify, SignJWT } from 'jose'
import { v7 as uuidv7 } from 'uuid'
import { ApiError } from '../errors.ts'
import type { SigningKey } from './keys.ts'
import type { Principal, Role } from './scopes.ts'

export interface TokenSettings {
  issuer: string
  audience: string
  accessTtlSeconds: number
}

const VERIFIED_CACHE_MAX = 10_000

export const invalidToken = (message = 'Access token is invalid or expired') =>
  new ApiError('INVALID_TOKEN', message, { headers: { 'www-authenticate': 'Bearer error="invalid_token"' } })

export class AccessTokens {
  readonly #settings: TokenSettings
  readonly #signing: SigningKey
  readonly #jwks: JSONWebKeySet
  readonly #keySet: ReturnType<typeof createLocalJWKSet>
  readonly #verified = new Map<string, { principal: Principal; expiresAtMs: number }>()

  constructor(settings: TokenSettings, signing: SigningKey) {
    this.#settings = settings
    this.#signing = signing
    this.#jwks = { keys: [signing.publicJwk] }
    this.#keySet = createLocalJWKSet(this.#jwks)
  }

  get ttlSeconds(): number {
    return this.#settings.accessTtlSeconds
  }

  jwks(): JSONWebKeySet {
    return this.#jwks
  }

  async issue(user: { id: string; role: Role }, scopes: readonly string[]): Promise<string> {
    return new SignJWT({ role: user.role, scope: scopes.join(' ') })
      .setProtectedHeader({ alg: this.#signing.alg, kid: this.#signing.kid, typ: 'JWT' })
      .setIssuer(this.#settings.issuer)
      .setAudience(this.#settings.audience)
      .setSubject(user.id)
      .setJti(uuidv7())
      .setIssuedAt()
      .setExpirationTime(`${this.#settings.accessTtlSeconds}s`)
      .sign(this.#signing.privateKey)
  }

  /** Verifies a JWT access token; throws INVALID_TOKEN for anything wrong with it. */
  async verify(token: string): Promise<Principal> {
    const now = Date.now()
    const cached = this.#verified.get(token)
    if (cached && cached.expiresAtMs > now) return cached.principal
    if (cached) this.#verified.delete(token)
    let payload: Record<string, unknown>
    try {
      ;({ payload } = await jwtVerify(token, this.#keySet, {
        algorithms: ['EdDSA'],
        issuer: this.#settings.issuer,
        audience: this.#settings.audience,
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      }))
    } catch {
      throw invalidToken()
    }
    const role = payload.role
    const scope = payload.scope
    if (
      (role !== 'user' && role !== 'admin') ||
      typeof scope !== 'string' ||
      typeof payload.sub !== 'string'
    ) {
      throw invalidToken()
    }
    const principal: Principal = {
      userId: payload.sub,
      role,
      scopes: new Set(scope.split(' ').filter(Boolean)),
      via: 'session',
    }
    if (this.#verified.size >= VERIFIED_CACHE_MAX) {
      const oldest = this.#verified.keys().next().value
      if (oldest !== undefined) this.#verified.delete(oldest)
    }
    this.#verified.set(token, { principal, expiresAtMs: Number(payload.exp) * 1000 })
    return principal
  }
}

/** Opaque high-entropy secrets (refresh tokens, API tokens) and the hash they are stored under. */
export function newOpaqueToken(prefix: string): string {
  return `${prefix}${randomBytes(32).toString('base64url')}`
}

export function hashOpaqueToken(token: string): string {
  return createHash('sha256').update(token).digest('base64url')
}

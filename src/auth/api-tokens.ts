// Personal API tokens: minted and revoked with a login session, shown once,
// stored hashed, never wider than the owner's role. Resolving one is cached for
// a few seconds (revocations on this instance apply at once, elsewhere within that).
import type { AuditLog } from '../audit/recorder.ts'
import { type Database, runInTransaction } from '../db/database.ts'
import { forbidden, notFound, validationFailed } from '../errors.ts'
import { uuidv7 } from '../ids.ts'
import type { Clock } from '../time.ts'
import {
  type ApiToken,
  findListedApiToken,
  findLiveApiToken,
  insertApiToken,
  listApiTokens,
  revokeApiToken,
} from './api-token-repository.ts'
import { effectiveScopes, type Principal, scopesForRole } from './scopes.ts'
import { BoundedCache, hashOpaqueToken, invalidToken, newOpaqueToken } from './tokens.ts'

export const API_TOKEN_PREFIX = 'tt_'
const API_TOKEN = /^tt_[A-Za-z0-9_-]{43}$/
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export class ApiTokenService {
  readonly #database: Database
  readonly #audit: AuditLog
  readonly #clock: Clock
  readonly #recheckMs: number
  readonly #resolved = new BoundedCache<{ principal: Principal; checkedAtMs: number; expiresAtMs: number }>(
    10_000,
  )

  constructor(deps: { database: Database; audit: AuditLog; clock: Clock; recheckMs: number }) {
    this.#database = deps.database
    this.#recheckMs = deps.recheckMs
    this.#audit = deps.audit
    this.#clock = deps.clock
  }

  async create(
    principal: Principal,
    input: { name: string; scopes: string[]; expiresAt?: string | undefined },
  ): Promise<ApiToken & { token: string }> {
    if (principal.via !== 'session') throw forbidden('API tokens can only be created with a login session')
    const now = this.#clock()
    const name = input.name.trim()
    const scopes = [...new Set(input.scopes)]
    const allowed = new Set<string>(scopesForRole(principal.role))
    const details = []
    if (name.length < 1) details.push({ field: 'name', message: 'must not be empty' })
    const beyond = scopes.filter((s) => !allowed.has(s))
    if (beyond.length > 0)
      details.push({ field: 'scopes', message: `your role does not hold ${beyond.join(', ')}` })
    let expiresAt: string | null = null
    if (input.expiresAt !== undefined) {
      const at = new Date(input.expiresAt)
      if (Number.isNaN(at.getTime()) || at.getTime() <= now.getTime())
        details.push({ field: 'expiresAt', message: 'must be a time in the future' })
      else expiresAt = at.toISOString()
    }
    if (details.length > 0) throw validationFailed(details, 'Request body is invalid')

    const token = newOpaqueToken(API_TOKEN_PREFIX)
    const record: ApiToken = { id: uuidv7(), name, scopes, createdAt: now.toISOString(), expiresAt }
    await runInTransaction(this.#database, async (trx) => {
      await insertApiToken(trx, { ...record, userId: principal.userId, tokenHash: hashOpaqueToken(token) })
      await this.#audit.record(trx, {
        action: 'api_token.created',
        actorId: principal.userId,
        targetType: 'api_token',
        targetId: record.id,
        origin: principal.origin,
        details: { name, scopes, expiresAt },
      })
    })
    return { ...record, token }
  }

  list(principal: Principal): Promise<ApiToken[]> {
    return listApiTokens(this.#database.db, principal.userId)
  }

  /** One of the caller's tokens, as list() shows it. */
  async get(principal: Principal, id: string): Promise<ApiToken> {
    if (!UUID.test(id)) throw notFound('API token')
    const token = await findListedApiToken(this.#database.db, principal.userId, id.toLowerCase())
    if (!token) throw notFound('API token')
    return token
  }

  async revoke(principal: Principal, id: string): Promise<void> {
    if (!UUID.test(id)) throw notFound('API token')
    const now = this.#clock().toISOString()
    const revoked = await runInTransaction(this.#database, async (trx) => {
      const token = await revokeApiToken(trx, principal.userId, id.toLowerCase(), now)
      if (!token) return false
      await this.#audit.record(trx, {
        action: 'api_token.revoked',
        actorId: principal.userId,
        targetType: 'api_token',
        targetId: token.id,
        origin: principal.origin,
      })
      return true
    })
    if (!revoked) throw notFound('API token')
    this.#resolved.clear()
  }

  /** Resolves `tt_…` to its owner, or throws INVALID_TOKEN (unknown, revoked, expired, malformed). */
  async resolve(token: string): Promise<Principal> {
    if (!API_TOKEN.test(token)) throw invalidToken('API token is invalid, expired or revoked')
    const hash = hashOpaqueToken(token)
    const nowMs = Date.now()
    const cached = this.#resolved.get(hash)
    if (cached && nowMs - cached.checkedAtMs < this.#recheckMs && cached.expiresAtMs > nowMs)
      return cached.principal
    const found = await findLiveApiToken(this.#database.db, hash, this.#clock().toISOString())
    if (!found) {
      this.#resolved.delete(hash)
      throw invalidToken('API token is invalid, expired or revoked')
    }
    const principal: Principal = {
      userId: found.userId,
      role: found.role,
      scopes: effectiveScopes(found.role, found.scopes),
      via: 'api-token',
    }
    const expiresAtMs = found.expiresAt === null ? Number.POSITIVE_INFINITY : Date.parse(found.expiresAt)
    this.#resolved.set(hash, { principal, checkedAtMs: nowMs, expiresAtMs })
    return principal
  }
}

// Idempotency-Key semantics (API.md §3): the first request with a key runs;
// a retry with the same body replays its response; another body is 422; a
// retry while the first is still running is 409. The response is stored in
// the same transaction as the change it reports, so a replay never lies.
import { createHash } from 'node:crypto'
import type { Database, Executor } from '../db/database.ts'
import { ApiError } from '../errors.ts'
import type { Clock } from '../time.ts'
import {
  claimIdempotencyKey,
  completeIdempotencyKey,
  deleteStaleIdempotencyRecord,
  findIdempotencyRecord,
  releaseIdempotencyKey,
} from './repository.ts'

/** An in-progress claim older than this belongs to a request that died; a retry may take it over. */
const ABANDONED_AFTER_MS = 60_000

export interface StoredResponse {
  statusCode: number
  body: string
  location: string | null
}

export type IdempotencyOutcome =
  | {
      kind: 'proceed'
      complete: (trx: Executor, response: StoredResponse) => Promise<void>
      release: () => Promise<void>
    }
  | { kind: 'replay'; response: StoredResponse }

/** A stable hash of a JSON body: key order does not matter. */
export function requestFingerprint(value: unknown): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v
  return createHash('sha256')
    .update(JSON.stringify(canonical(value) ?? null))
    .digest('base64url')
}

export class IdempotencyService {
  readonly #database: Database
  readonly #clock: Clock
  readonly #ttlMs: number

  constructor(deps: { database: Database; clock: Clock; ttlHours: number }) {
    this.#database = deps.database
    this.#clock = deps.clock
    this.#ttlMs = deps.ttlHours * 3_600_000
  }

  async begin(userId: string, key: string, fingerprint: string): Promise<IdempotencyOutcome> {
    const db = this.#database.db
    for (let attempt = 0; attempt < 3; attempt++) {
      const now = this.#clock()
      const claimed = await claimIdempotencyKey(db, {
        userId,
        key,
        requestHash: fingerprint,
        now: now.toISOString(),
        expiresAt: new Date(now.getTime() + this.#ttlMs).toISOString(),
      })
      if (claimed) {
        return {
          kind: 'proceed',
          complete: (trx, response) =>
            completeIdempotencyKey(trx, {
              userId,
              key,
              statusCode: response.statusCode,
              responseBody: response.body,
              location: response.location,
            }),
          release: () => releaseIdempotencyKey(db, userId, key, now.toISOString()),
        }
      }
      const existing = await findIdempotencyRecord(db, userId, key)
      if (!existing) continue // released or purged between the two statements
      const expired = Date.parse(existing.expiresAt) <= now.getTime()
      const abandoned =
        existing.state === 'in_progress' &&
        now.getTime() - Date.parse(existing.createdAt) > ABANDONED_AFTER_MS
      if (expired || abandoned) {
        await deleteStaleIdempotencyRecord(db, userId, key, existing)
        continue
      }
      if (existing.requestHash !== fingerprint) {
        throw new ApiError(
          'IDEMPOTENCY_KEY_REUSED',
          'This Idempotency-Key was used with a different request body',
          {
            details: [
              { field: 'idempotency-key', message: 'was already used with a different request body' },
            ],
          },
        )
      }
      if (existing.state === 'in_progress') {
        throw new ApiError(
          'IDEMPOTENCY_IN_PROGRESS',
          'A request with this Idempotency-Key is still being processed; retry shortly',
          {
            headers: { 'retry-after': '1' },
          },
        )
      }
      return {
        kind: 'replay',
        response: {
          statusCode: existing.statusCode ?? 200,
          body: existing.responseBody ?? '',
          location: existing.location,
        },
      }
    }
    throw new ApiError(
      'IDEMPOTENCY_IN_PROGRESS',
      'A request with this Idempotency-Key is still being processed; retry shortly',
      {
        headers: { 'retry-after': '1' },
      },
    )
  }
}

// Stored responses of requests sent with an Idempotency-Key, per user and key.
import type { Executor } from '../db/database.ts'
import { isUniqueViolation } from '../db/errors.ts'
import { toIso } from '../time.ts'

export interface IdempotencyRecord {
  requestHash: string
  state: 'in_progress' | 'completed'
  statusCode: number | null
  responseBody: string | null
  location: string | null
  createdAt: string
  expiresAt: string
}

export async function findIdempotencyRecord(
  db: Executor,
  userId: string,
  key: string,
): Promise<IdempotencyRecord | undefined> {
  const row = await db
    .selectFrom('idempotency_keys')
    .select(['request_hash', 'state', 'status_code', 'response_body', 'location', 'created_at', 'expires_at'])
    .where('user_id', '=', userId)
    .where('key', '=', key)
    .executeTakeFirst()
  if (!row) return undefined
  return {
    requestHash: row.request_hash,
    state: row.state,
    statusCode: row.status_code,
    responseBody: row.response_body,
    location: row.location,
    createdAt: toIso(row.created_at),
    expiresAt: toIso(row.expires_at),
  }
}

/** Claims the key for a new request; false when a row for it already exists. */
export async function claimIdempotencyKey(
  db: Executor,
  claim: { userId: string; key: string; requestHash: string; now: string; expiresAt: string },
): Promise<boolean> {
  try {
    await db
      .insertInto('idempotency_keys')
      .values({
        user_id: claim.userId,
        key: claim.key,
        request_hash: claim.requestHash,
        state: 'in_progress',
        status_code: null,
        response_body: null,
        location: null,
        created_at: claim.now,
        expires_at: claim.expiresAt,
      })
      .execute()
    return true
  } catch (error) {
    if (isUniqueViolation(error)) return false
    throw error
  }
}

export async function completeIdempotencyKey(
  db: Executor,
  done: { userId: string; key: string; statusCode: number; responseBody: string; location: string | null },
): Promise<void> {
  await db
    .updateTable('idempotency_keys')
    .set({
      state: 'completed',
      status_code: done.statusCode,
      response_body: done.responseBody,
      location: done.location,
    })
    .where('user_id', '=', done.userId)
    .where('key', '=', done.key)
    .execute()
}

/** Gives up a claim made at `claimedAt` (the request failed); a later claim of the same key is left alone. */
export async function releaseIdempotencyKey(
  db: Executor,
  userId: string,
  key: string,
  claimedAt: string,
): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('user_id', '=', userId)
    .where('key', '=', key)
    .where('state', '=', 'in_progress')
    .where('created_at', '=', claimedAt)
    .execute()
}

/**
 * Deletes the record `seen` (expired, or a claim abandoned by a crashed request) so the key can
 * be claimed again, and only that one: when two retries find the same stale record, the second
 * must not delete the claim the first has just made, or both would go ahead.
 */
export async function deleteStaleIdempotencyRecord(
  db: Executor,
  userId: string,
  key: string,
  seen: Pick<IdempotencyRecord, 'state' | 'createdAt'>,
): Promise<void> {
  await db
    .deleteFrom('idempotency_keys')
    .where('user_id', '=', userId)
    .where('key', '=', key)
    .where('state', '=', seen.state)
    .where('created_at', '=', seen.createdAt)
    .execute()
}

export async function purgeExpiredIdempotencyKeys(db: Executor, now: string): Promise<number> {
  const result = await db.deleteFrom('idempotency_keys').where('expires_at', '<', now).executeTakeFirst()
  return Number(result.numDeletedRows)
}

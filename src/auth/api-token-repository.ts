// Personal API tokens: rows in, domain objects out. Only the SHA-256 of a token is stored.
import type { Executor } from '../db/database.ts'
import { toIso, toIsoOrNull } from '../time.ts'
import type { Role } from './scopes.ts'

export interface ApiToken {
  id: string
  name: string
  scopes: string[]
  createdAt: string
  expiresAt: string | null
}

interface Row {
  id: string
  name: string
  scopes: string
  created_at: string | Date
  expires_at: string | Date | null
}

const toApiToken = (row: Row): ApiToken => ({
  id: row.id,
  name: row.name,
  scopes: row.scopes.split(' ').filter(Boolean),
  createdAt: toIso(row.created_at),
  expiresAt: toIsoOrNull(row.expires_at),
})

export async function insertApiToken(
  db: Executor,
  token: ApiToken & { userId: string; tokenHash: string },
): Promise<void> {
  await db
    .insertInto('api_tokens')
    .values({
      id: token.id,
      user_id: token.userId,
      name: token.name,
      token_hash: token.tokenHash,
      scopes: token.scopes.join(' '),
      created_at: token.createdAt,
      expires_at: token.expiresAt,
      revoked_at: null,
    })
    .execute()
}

/** The user's tokens that are not revoked (expired ones too, so they can be cleaned up). */
const listedTokens = (db: Executor, userId: string) =>
  db
    .selectFrom('api_tokens')
    .select(['id', 'name', 'scopes', 'created_at', 'expires_at'])
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)

/** The caller's tokens as listed: not revoked, newest first. */
export async function listApiTokens(db: Executor, userId: string): Promise<ApiToken[]> {
  const rows = await listedTokens(db, userId).orderBy('created_at', 'desc').orderBy('id', 'desc').execute()
  return rows.map(toApiToken)
}

/** One of the caller's listed tokens; undefined when the list does not hold it. */
export async function findListedApiToken(
  db: Executor,
  userId: string,
  id: string,
): Promise<ApiToken | undefined> {
  const row = await listedTokens(db, userId).where('id', '=', id).executeTakeFirst()
  return row && toApiToken(row)
}

/** Revokes one of the user's tokens; undefined when there is no such live token of theirs. */
export async function revokeApiToken(
  db: Executor,
  userId: string,
  id: string,
  now: string,
): Promise<ApiToken | undefined> {
  const row = await db
    .selectFrom('api_tokens')
    .select(['id', 'name', 'scopes', 'created_at', 'expires_at'])
    .where('id', '=', id)
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  if (!row) return undefined
  await db.updateTable('api_tokens').set({ revoked_at: now }).where('id', '=', id).execute()
  return toApiToken(row)
}

/** A live token by its hash, with its owner's current role. */
export async function findLiveApiToken(
  db: Executor,
  tokenHash: string,
  now: string,
): Promise<{ userId: string; role: Role; scopes: string[]; expiresAt: string | null } | undefined> {
  const row = await db
    .selectFrom('api_tokens')
    .innerJoin('users', 'users.id', 'api_tokens.user_id')
    .select(['api_tokens.user_id', 'users.role', 'api_tokens.scopes', 'api_tokens.expires_at'])
    .where('api_tokens.token_hash', '=', tokenHash)
    .where('api_tokens.revoked_at', 'is', null)
    .executeTakeFirst()
  if (!row) return undefined
  const expiresAt = toIsoOrNull(row.expires_at)
  if (expiresAt !== null && expiresAt <= now) return undefined
  return { userId: row.user_id, role: row.role, scopes: row.scopes.split(' ').filter(Boolean), expiresAt }
}

// Users and refresh tokens: rows in, domain objects out.
import type { Executor } from '../db/database.ts'
import { toIso } from '../time.ts'
import type { Role } from './scopes.ts'

export interface User {
  id: string
  email: string
  name: string
  role: Role
  createdAt: string
}

export interface UserWithPassword extends User {
  passwordHash: string | null
}

interface UserRow {
  id: string
  email: string
  name: string
  role: Role
  created_at: string | Date
  password_hash: string | null
}

function toUser(row: UserRow): UserWithPassword {
  return {
    id: row.id,
    email: row.email,
    name: row.name,
    role: row.role,
    createdAt: toIso(row.created_at),
    passwordHash: row.password_hash,
  }
}

const USER_COLUMNS = ['id', 'email', 'name', 'role', 'created_at', 'password_hash'] as const

export async function insertUser(
  db: Executor,
  user: { id: string; email: string; name: string; role: Role; passwordHash: string | null; now: string },
): Promise<User> {
  await db
    .insertInto('users')
    .values({
      id: user.id,
      email: user.email,
      name: user.name,
      role: user.role,
      password_hash: user.passwordHash,
      created_at: user.now,
      updated_at: user.now,
    })
    .execute()
  return { id: user.id, email: user.email, name: user.name, role: user.role, createdAt: user.now }
}

export async function findUserByEmail(db: Executor, email: string): Promise<UserWithPassword | undefined> {
  const row = await db.selectFrom('users').select(USER_COLUMNS).where('email', '=', email).executeTakeFirst()
  return row ? toUser(row) : undefined
}

export async function findUserById(db: Executor, id: string): Promise<UserWithPassword | undefined> {
  const row = await db.selectFrom('users').select(USER_COLUMNS).where('id', '=', id).executeTakeFirst()
  return row ? toUser(row) : undefined
}

export async function insertRefreshToken(
  db: Executor,
  token: { id: string; userId: string; familyId: string; tokenHash: string; now: string; expiresAt: string },
): Promise<void> {
  await db
    .insertInto('refresh_tokens')
    .values({
      id: token.id,
      user_id: token.userId,
      family_id: token.familyId,
      token_hash: token.tokenHash,
      created_at: token.now,
      expires_at: token.expiresAt,
      used_at: null,
      revoked_at: null,
    })
    .execute()
}

export interface RefreshTokenRow {
  id: string
  userId: string
  familyId: string
  expiresAt: string
  usedAt: string | null
  revokedAt: string | null
}

export async function findRefreshToken(
  db: Executor,
  tokenHash: string,
): Promise<RefreshTokenRow | undefined> {
  const row = await db
    .selectFrom('refresh_tokens')
    .select(['id', 'user_id', 'family_id', 'expires_at', 'used_at', 'revoked_at'])
    .where('token_hash', '=', tokenHash)
    .executeTakeFirst()
  if (!row) return undefined
  return {
    id: row.id,
    userId: row.user_id,
    familyId: row.family_id,
    expiresAt: toIso(row.expires_at),
    usedAt: row.used_at === null ? null : toIso(row.used_at),
    revokedAt: row.revoked_at === null ? null : toIso(row.revoked_at),
  }
}

/** Marks a refresh token spent; false when another request spent (or revoked) it first. */
export async function spendRefreshToken(db: Executor, id: string, now: string): Promise<boolean> {
  const result = await db
    .updateTable('refresh_tokens')
    .set({ used_at: now })
    .where('id', '=', id)
    .where('used_at', 'is', null)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  return Number(result.numUpdatedRows) === 1
}

export async function revokeFamily(db: Executor, familyId: string, now: string): Promise<void> {
  await db
    .updateTable('refresh_tokens')
    .set({ revoked_at: now })
    .where('family_id', '=', familyId)
    .where('revoked_at', 'is', null)
    .execute()
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** The account's role when it exists and, for a session token, its refresh family is not revoked. */
export async function liveSessionRole(
  db: Executor,
  userId: string,
  familyId: string | undefined,
): Promise<{ role: Role } | undefined> {
  if (!UUID.test(userId) || (familyId !== undefined && !UUID.test(familyId))) return undefined
  const user = await db.selectFrom('users').select('role').where('id', '=', userId).executeTakeFirst()
  if (!user) return undefined
  if (familyId !== undefined) {
    // The session must be this user's and still open: a family with no rows (never issued, or
    // another user's) is no session, and one revoked row ends it.
    const family = await db
      .selectFrom('refresh_tokens')
      .select((eb) => [eb.fn.countAll().as('rows'), eb.fn.count('revoked_at').as('revoked')])
      .where('family_id', '=', familyId)
      .where('user_id', '=', userId)
      .executeTakeFirst()
    if (!family || Number(family.rows) === 0 || Number(family.revoked) > 0) return undefined
  }
  return { role: user.role }
}

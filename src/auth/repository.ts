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

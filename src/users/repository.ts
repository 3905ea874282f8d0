// Accounts for administration: paginated listing and role changes.
import type { User } from '../auth/repository.ts'
import type { Role } from '../auth/scopes.ts'
import type { Executor } from '../db/database.ts'
import { toIso } from '../time.ts'

export async function listUsers(
  db: Executor,
  page: { limit: number; offset: number },
): Promise<{ items: User[]; total: number }> {
  const [rows, count] = await Promise.all([
    db
      .selectFrom('users')
      .select(['id', 'email', 'name', 'role', 'created_at'])
      .orderBy('created_at', 'asc')
      .orderBy('id', 'asc')
      .limit(page.limit)
      .offset(page.offset)
      .execute(),
    db
      .selectFrom('users')
      .select((eb) => eb.fn.countAll<number | string>().as('n'))
      .executeTakeFirstOrThrow(),
  ])
  return {
    total: Number(count.n),
    items: rows.map((r) => ({
      id: r.id,
      email: r.email,
      name: r.name,
      role: r.role,
      createdAt: toIso(r.created_at),
    })),
  }
}

export async function updateRole(db: Executor, userId: string, role: Role, now: string): Promise<void> {
  await db.updateTable('users').set({ role, updated_at: now }).where('id', '=', userId).execute()
}

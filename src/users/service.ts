// Account administration: listing (admins) and role changes (the command line). Knows no HTTP.
import type { AuditLog } from '../audit/recorder.ts'
import { findUserByEmail, type User } from '../auth/repository.ts'
import type { Principal, Role } from '../auth/scopes.ts'
import { normaliseEmail } from '../auth/service.ts'
import { type Database, runInTransaction } from '../db/database.ts'
import { forbidden, notFound } from '../errors.ts'
import type { Clock } from '../time.ts'
import { can } from './policy.ts'
import { listUsers, updateRole } from './repository.ts'

export class UserService {
  readonly #database: Database
  readonly #audit: AuditLog
  readonly #clock: Clock

  constructor(deps: { database: Database; audit: AuditLog; clock: Clock }) {
    this.#database = deps.database
    this.#audit = deps.audit
    this.#clock = deps.clock
  }

  list(
    principal: Principal,
    page: { limit: number; offset: number },
  ): Promise<{ items: User[]; total: number }> {
    if (!can(principal, 'users:list')) throw forbidden('Only admins may list users')
    return listUsers(this.#database.db, page)
  }

  /** Sets an account's role (the command line: there is no public API for it). */
  async setRole(email: string, role: Role): Promise<User> {
    return runInTransaction(this.#database, async (trx) => {
      const user = await findUserByEmail(trx, normaliseEmail(email))
      if (!user) throw notFound('User')
      const { passwordHash: _omit, ...publicUser } = user
      if (user.role === role) return publicUser
      await updateRole(trx, user.id, role, this.#clock().toISOString())
      await this.#audit.record(trx, {
        action: 'user.role_changed',
        actorId: null,
        targetType: 'user',
        targetId: user.id,
        details: { from: user.role, to: role, via: 'cli' },
      })
      return { ...publicUser, role }
    })
  }
}

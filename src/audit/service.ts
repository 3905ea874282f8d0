// Reading the audit log: admins only. Knows no HTTP.
import type { Principal } from '../auth/scopes.ts'
import type { Database } from '../db/database.ts'
import { forbidden } from '../errors.ts'
import { can } from '../users/policy.ts'
import { type AuditEvent, type AuditFilter, listAuditEvents } from './repository.ts'

export class AuditService {
  readonly #database: Database
  constructor(database: Database) {
    this.#database = database
  }

  list(principal: Principal, filter: AuditFilter): Promise<{ items: AuditEvent[]; total: number }> {
    if (!can(principal, 'audit:read')) throw forbidden('Only admins may read the audit log')
    return listAuditEvents(this.#database.db, filter)
  }
}

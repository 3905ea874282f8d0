// Who may administer accounts and read the audit log: the one place this rule lives.
import type { Principal } from '../auth/scopes.ts'

export type AdminAction = 'users:list' | 'audit:read'

export function can(principal: Principal, _action: AdminAction): boolean {
  return principal.role === 'admin'
}

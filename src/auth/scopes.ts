// Scopes and what each role may hold. The one place that knows this mapping.
export const SCOPES = ['tasks:read', 'tasks:write', 'webhooks:manage'] as const
export type Scope = (typeof SCOPES)[number]
export type Role = 'user' | 'admin'

const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  user: SCOPES,
  admin: SCOPES,
}

export function scopesForRole(role: Role): readonly Scope[] {
  return ROLE_SCOPES[role]
}

/** Who is calling, as established by the authentication hook. */
export interface Principal {
  userId: string
  role: Role
  scopes: ReadonlySet<string>
  /** `session` for access tokens from login, `api-token` for personal API tokens. */
  via: 'session' | 'api-token'
}

// Scopes and what each role may hold. The one place that knows this mapping.
export const SCOPES = ['tasks:read', 'tasks:write', 'webhooks:manage'] as const
export type Scope = (typeof SCOPES)[number]
export const ROLES = ['user', 'admin'] as const
export type Role = (typeof ROLES)[number]

const ROLE_SCOPES: Record<Role, readonly Scope[]> = {
  user: SCOPES,
  admin: SCOPES,
}

export function scopesForRole(role: Role): readonly Scope[] {
  return ROLE_SCOPES[role]
}

/** The scopes a credential really carries: what it names, limited to what the role allows today. */
export function effectiveScopes(role: Role, named: Iterable<string>): Set<string> {
  const allowed = new Set<string>(ROLE_SCOPES[role])
  return new Set([...named].filter((s) => allowed.has(s)))
}

export function isRole(value: unknown): value is Role {
  return value === 'user' || value === 'admin'
}

/** Where a request came from, for the audit log. */
export interface RequestOrigin {
  requestId: string
  address: string
}

/** Who is calling, as established by the authentication hook. */
export interface Principal {
  userId: string
  role: Role
  scopes: ReadonlySet<string>
  /** `session` for access tokens from login (or an external provider), `api-token` for personal API tokens. */
  via: 'session' | 'api-token'
  /** The refresh-token family a session access token belongs to. */
  sessionId?: string
  /** Set per request by the authentication hook. */
  origin?: RequestOrigin
}

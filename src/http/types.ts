// What the cross-cutting hooks add to Fastify's request and route config.
import type { Principal, Scope } from '../auth/scopes.ts'
import type { ApiError } from '../errors.ts'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No credentials needed (register, login, health…). Marked on the route, never by URL. */
    public?: boolean
    /** The scope a token must carry to call this route. Every non-public /v1 route names one or `none`. */
    scope?: Scope | 'none'
    /** Personal API tokens may not call this route (token management needs a login session). */
    sessionOnly?: boolean
    /** Which rate-limit policy applies: `auth` (stricter, per address) or `none` (operational endpoints). */
    rateLimitPolicy?: 'auth' | 'none'
    /**
     * Media type the route produces, with the parameters it is sent with, so that an Accept
     * naming them matches (default `application/json; charset=utf-8`); Accept is checked against
     * it. `false`: not checked (Swagger UI's routes, which serve HTML, scripts, styles and images).
     */
    produces?: string | false
  }
  interface FastifyRequest {
    principal: Principal | null
    authError: ApiError | null
  }
}

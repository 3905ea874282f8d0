// Authentication in two steps around the rate limiter: `resolvePrincipal` reads
// the Bearer credential (so limits can be per user) and `enforceAccess` rejects
// afterwards, so even bad-token floods are rate limited per address.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Principal, RequestOrigin } from '../auth/scopes.ts'
import { invalidToken } from '../auth/tokens.ts'
import { ApiError, serviceUnavailable } from '../errors.ts'
import { sentTwice } from './raw-headers.ts'

export interface CredentialVerifier {
  /** Resolves a bearer credential (JWT or personal API token) or throws INVALID_TOKEN. */
  verifyBearer(token: string): Promise<Principal>
}

const BEARER = /^Bearer[ ]+([^\s]+)\s*$/i

/** The credential of an `Authorization: Bearer <token>` header (the scheme in any case, RFC 9110 §11.1). */
export function bearerToken(header: string | undefined): string | undefined {
  return header === undefined ? undefined : BEARER.exec(header)?.[1]
}
/**
 * A request with more than one Authorization header: Node keeps the first and drops the rest, a
 * proxy may read the last. Two credentials in one request are ambiguous, so none is used
 * (RFC 6750 §3.1: invalid_request, 400).
 */
export const severalAuthorizations = () =>
  new ApiError('MALFORMED_REQUEST', 'Send one Authorization header, not several', {
    headers: { 'www-authenticate': 'Bearer error="invalid_request"' },
  })

/** Longer bearer values are refused before any parsing (no legitimate token is near this). */
const MAX_TOKEN_LENGTH = 8192

/** What every route declares about access, collected as routes are registered (the route/scope walk test reads it). */
export interface RouteAccess {
  method: string
  url: string
  public: boolean
  scope: string | undefined
  sessionOnly: boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Every registered route with its access declaration. */
    routeAccess(): RouteAccess[]
    /**
     * Verifies the request's bearer credential again, as a new request would be (the recheck
     * interval applies): undefined once it is no longer valid (expired, revoked, its session
     * ended or its account gone). Rejects when it cannot be checked (the database is down).
     * For responses that outlive their request's check: the live event stream.
     */
    recheckPrincipal(request: FastifyRequest): Promise<Principal | undefined>
  }
}

/** Where a request came from, for the audit log. */
export function originOf(request: FastifyRequest): RequestOrigin {
  return { requestId: String(request.id), address: request.ip }
}

export function registerAuthentication(
  app: FastifyInstance,
  verifier: CredentialVerifier,
): {
  resolvePrincipal: (request: FastifyRequest) => Promise<void>
  enforceAccess: (request: FastifyRequest) => Promise<void>
} {
  app.decorateRequest('principal', null)
  app.decorateRequest('authError', null)
  // Route options objects, read once every plugin's onRoute hooks have run (a plugin may mark its routes later).
  const routes: { method: string | string[]; url: string; config?: unknown }[] = []
  app.decorate('routeAccess', () =>
    routes.flatMap((route) => {
      const config = (route.config ?? {}) as { public?: boolean; scope?: string; sessionOnly?: boolean }
      return [route.method].flat().map((method) => ({
        method,
        url: route.url,
        public: config.public === true,
        scope: config.scope,
        sessionOnly: config.sessionOnly === true,
      }))
    }),
  )
  app.decorate('recheckPrincipal', async (request: FastifyRequest) => {
    const token = bearerToken(request.headers.authorization)
    if (token === undefined || token.length > MAX_TOKEN_LENGTH) return undefined
    try {
      return await verifier.verifyBearer(token)
    } catch (error) {
      // Only a refused credential ends what it opened; an identity provider or database that
      // cannot answer now (503, or any other failure) is not an answer about the credential.
      if (error instanceof ApiError && error.code === 'INVALID_TOKEN') return undefined
      throw error
    }
  })
  app.addHook('onRoute', (route) => {
    // OPTIONS exists only for CORS preflights (@fastify/cors), which browsers send without credentials.
    if ([route.method].flat().every((m) => m === 'OPTIONS'))
      route.config = { ...(route.config ?? {}), public: true, rateLimitPolicy: 'none' }
    routes.push(route)
  })

  async function resolvePrincipal(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization
    // A public route neither needs the credential nor counts per user (its limit, if any, is per
    // address): not verifying it keeps /health and the key set answering while the database is
    // down. An unknown route (404, 405) does count per user, as every other authenticated request.
    if (header === undefined || request.routeOptions.config.public) return
    if (sentTwice(request.raw.rawHeaders, 'authorization')) {
      request.authError = severalAuthorizations()
      return
    }
    const token = bearerToken(header)
    if (!token || token.length > MAX_TOKEN_LENGTH) {
      request.authError = invalidToken('Authorization header must be "Bearer <token>"')
      return
    }
    try {
      const principal = await verifier.verifyBearer(token)
      // A copy per request: verified principals are cached and shared between requests.
      request.principal = { ...principal, origin: originOf(request) }
    } catch (error) {
      if (!(error instanceof ApiError))
        request.log.warn({ err: error }, 'credential verification failed unexpectedly')
      // Anything but an ApiError is our failure (e.g. the database), not a bad credential.
      request.authError =
        error instanceof ApiError ? error : serviceUnavailable('Credentials cannot be checked right now')
    }
  }

  async function enforceAccess(request: FastifyRequest): Promise<void> {
    if (request.is404) return
    const config = request.routeOptions.config
    if (config.public) return
    if (request.authError) throw request.authError
    const principal = request.principal
    if (!principal) {
      throw new ApiError('UNAUTHENTICATED', 'Authentication required: send Authorization: Bearer <token>', {
        headers: { 'www-authenticate': 'Bearer' },
      })
    }
    if (config.sessionOnly && principal.via !== 'session') {
      throw new ApiError('FORBIDDEN', 'This endpoint needs a login session; API tokens cannot call it')
    }
    const scope = config.scope
    if (scope === undefined) {
      // A route that forgot to declare its scope fails closed.
      throw new ApiError('INSUFFICIENT_SCOPE', 'This endpoint is not available to tokens')
    }
    if (scope !== 'none' && !principal.scopes.has(scope)) {
      throw new ApiError('INSUFFICIENT_SCOPE', `This token lacks the ${scope} scope`, {
        headers: { 'www-authenticate': `Bearer error="insufficient_scope", scope="${scope}"` },
      })
    }
  }

  return { resolvePrincipal, enforceAccess }
}

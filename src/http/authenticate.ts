// Authentication in two steps around the rate limiter: `resolvePrincipal` reads
// the Bearer credential (so limits can be per user) and `enforceAccess` rejects
// afterwards, so even bad-token floods are rate limited per address.
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Principal } from '../auth/scopes.ts'
import { invalidToken } from '../auth/tokens.ts'
import { ApiError } from '../errors.ts'

export interface CredentialVerifier {
  /** Resolves a bearer credential (JWT or personal API token) or throws INVALID_TOKEN. */
  verifyBearer(token: string): Promise<Principal>
}

const BEARER = /^Bearer[ ]+([^\s]+)\s*$/i

export function registerAuthentication(
  app: FastifyInstance,
  verifier: CredentialVerifier,
): {
  resolvePrincipal: (request: FastifyRequest) => Promise<void>
  enforceAccess: (request: FastifyRequest) => Promise<void>
} {
  app.decorateRequest('principal', null)
  app.decorateRequest('authError', null)

  async function resolvePrincipal(request: FastifyRequest): Promise<void> {
    const header = request.headers.authorization
    if (header === undefined || request.is404) return
    const match = BEARER.exec(header)
    if (!match?.[1]) {
      request.authError = invalidToken('Authorization header must be "Bearer <token>"')
      return
    }
    try {
      request.principal = await verifier.verifyBearer(match[1])
    } catch (error) {
      request.authError = error instanceof ApiError ? error : invalidToken()
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

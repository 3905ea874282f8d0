// HTTP for registration, login, refresh, logout, the current user and the public keys.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { originOf } from '../http/authenticate.ts'
import { errorResponses, NoContent } from '../http/schemas.ts'
import { JwksSchema, LoginBody, RefreshBody, RegisterBody, TokenPairSchema, UserSchema } from './schemas.ts'
import type { AuthService } from './service.ts'
import type { AccessTokens } from './tokens.ts'

const TAG = ['auth']

export function authRoutes(deps: { auth: AuthService; tokens: AccessTokens }) {
  const { auth, tokens } = deps
  return async function register(app: FastifyInstance): Promise<void> {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()

    r.post(
      '/v1/auth/register',
      {
        config: { public: true, rateLimitPolicy: 'auth' },
        schema: {
          tags: TAG,
          summary: 'Create an account',
          security: [],
          body: RegisterBody,
          response: { 201: Type.Ref(UserSchema), ...errorResponses(400, 409, 413, 415, 422) },
        },
      },
      async (request, reply) => {
        const user = await auth.register(request.body, originOf(request))
        return reply.code(201).header('location', '/v1/me').send(user)
      },
    )

    r.post(
      '/v1/auth/login',
      {
        config: { public: true, rateLimitPolicy: 'auth' },
        schema: {
          tags: TAG,
          summary: 'Log in with email and password',
          description:
            'A wrong email and a wrong password get the same 401 INVALID_CREDENTIALS. Repeated failures for one email or one client address are throttled: 429 TOO_MANY_ATTEMPTS with Retry-After. An attempt is counted before its password is checked (and given back when it succeeds), so guesses sent in parallel get no more tries than guesses sent one by one.',
          security: [],
          body: LoginBody,
          response: { 200: TokenPairSchema, ...errorResponses(400, 401, 413, 415, 422) },
        },
      },
      async (request, reply) => {
        const pair = await auth.login(request.body, originOf(request))
        return reply.header('cache-control', 'no-store').send(pair)
      },
    )

    r.post(
      '/v1/auth/refresh',
      {
        config: { public: true, rateLimitPolicy: 'auth' },
        schema: {
          tags: TAG,
          summary: 'Exchange a refresh token for a new pair',
          description:
            'The refresh token is spent. Presenting a spent one again revokes its whole session (every refresh token of the family, and the access tokens issued from it): 401 INVALID_TOKEN.',
          security: [],
          body: RefreshBody,
          response: { 200: TokenPairSchema, ...errorResponses(400, 401, 413, 415, 422) },
        },
      },
      async (request, reply) => {
        const pair = await auth.refresh(request.body.refreshToken, originOf(request))
        return reply.header('cache-control', 'no-store').send(pair)
      },
    )

    r.post(
      '/v1/auth/logout',
      {
        config: { scope: 'none' },
        schema: {
          tags: TAG,
          summary: 'End a session',
          description:
            'Revokes the session the refresh token belongs to (its refresh tokens and the access tokens issued from it). Unknown or foreign refresh tokens change nothing; the answer is 204 either way.',
          body: RefreshBody,
          response: { 204: NoContent, ...errorResponses(400, 401, 403, 413, 415, 422) },
        },
      },
      async (request, reply) => {
        await auth.logout(request.principal!, request.body.refreshToken)
        return reply.code(204).send(null)
      },
    )

    r.get(
      '/v1/me',
      {
        config: { scope: 'none' },
        schema: {
          tags: TAG,
          summary: 'The current user',
          response: { 200: Type.Ref(UserSchema), ...errorResponses(401) },
        },
      },
      async (request) => auth.currentUser(request.principal!),
    )

    r.get(
      '/.well-known/jwks.json',
      {
        config: { public: true, rateLimitPolicy: 'none' },
        schema: {
          tags: TAG,
          summary: 'Public keys that verify access tokens',
          security: [],
          response: { 200: JwksSchema, ...errorResponses() },
        },
      },
      async (_request, reply) =>
        reply.header('cache-control', 'public, max-age=300').send(await tokens.jwks()),
    )
  }
}

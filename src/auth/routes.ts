// HTTP for registration, login, the current user and the public keys.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { errorResponses } from '../http/schemas.ts'
import { JwksSchema, LoginBody, RegisterBody, TokenPairSchema, UserSchema } from './schemas.ts'
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
        const user = await auth.register(request.body)
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
          description: 'A wrong email and a wrong password get the same 401 INVALID_CREDENTIALS.',
          security: [],
          body: LoginBody,
          response: { 200: TokenPairSchema, ...errorResponses(400, 401, 413, 415, 422) },
        },
      },
      async (request, reply) => {
        const pair = await auth.login(request.body)
        return reply.header('cache-control', 'no-store').send(pair)
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
          response: { 200: JwksSchema },
        },
      },
      async (_request, reply) => reply.header('cache-control', 'public, max-age=300').send(tokens.jwks()),
    )
  }
}

// HTTP for personal API tokens: created, listed and revoked with a login session only.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { refuseConditionsWithoutEtag } from '../conditional.ts'
import { errorResponses, NoContent } from '../http/schemas.ts'
import type { ApiTokenService } from './api-tokens.ts'
import {
  ApiTokenIdParams,
  ApiTokenListSchema,
  ApiTokenSchema,
  CreateApiTokenBody,
  CreatedApiTokenSchema,
} from './schemas.ts'

const TAG = ['api-tokens']
const sessionOnly = { scope: 'none', sessionOnly: true } as const

export function apiTokenRoutes(deps: { apiTokens: ApiTokenService }) {
  const { apiTokens } = deps
  return async function register(app: FastifyInstance): Promise<void> {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()

    r.post(
      '/v1/api-tokens',
      {
        config: sessionOnly,
        schema: {
          tags: TAG,
          summary: 'Create a personal API token',
          description:
            'Answers with the secret (`token`, `tt_…`) once; only its hash is kept. Scopes must be ones your role holds. Needs a login session: an API token cannot mint tokens (403).',
          body: CreateApiTokenBody,
          response: { 201: CreatedApiTokenSchema, ...errorResponses(400, 401, 403, 413, 415, 422) },
        },
      },
      async (request, reply) => {
        const created = await apiTokens.create(request.principal!, request.body)
        return reply
          .code(201)
          .header('cache-control', 'no-store')
          .header('location', `/v1/api-tokens/${created.id}`)
          .send(created)
      },
    )

    r.get(
      '/v1/api-tokens',
      {
        config: sessionOnly,
        schema: {
          tags: TAG,
          summary: 'List your API tokens (without secrets)',
          response: { 200: ApiTokenListSchema, ...errorResponses(401, 403) },
        },
      },
      async (request, reply) =>
        reply.header('cache-control', 'no-store').send({ items: await apiTokens.list(request.principal!) }),
    )

    r.get(
      '/v1/api-tokens/:id',
      {
        config: sessionOnly,
        schema: {
          tags: TAG,
          summary: 'One of your API tokens (without its secret)',
          description: 'What `Location` names when a token is created; 404 once it is revoked.',
          params: ApiTokenIdParams,
          response: { 200: ApiTokenSchema, ...errorResponses(401, 403, 404) },
        },
      },
      async (request, reply) =>
        reply
          .header('cache-control', 'no-store')
          .send(await apiTokens.get(request.principal!, request.params.id)),
    )

    r.delete(
      '/v1/api-tokens/:id',
      {
        config: sessionOnly,
        schema: {
          tags: TAG,
          summary: 'Revoke an API token',
          params: ApiTokenIdParams,
          response: { 204: NoContent, ...errorResponses(400, 401, 403, 404, 412, 415, 422) },
        },
      },
      async (request, reply) => {
        await refuseConditionsWithoutEtag(request.headers, () =>
          apiTokens.get(request.principal!, request.params.id),
        )
        await apiTokens.revoke(request.principal!, request.params.id)
        return reply.code(204).send(null)
      },
    )
  }
}

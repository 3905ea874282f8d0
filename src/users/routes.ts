// HTTP for account administration (admins only, with a login session).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { errorResponses } from '../http/schemas.ts'
import { UserListSchema, UsersQuery } from './schemas.ts'
import type { UserService } from './service.ts'

const MAX_LIMIT = 100

export function userRoutes(deps: { users: UserService }) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.withTypeProvider<TypeBoxTypeProvider>().get(
      '/v1/users',
      {
        config: { scope: 'none', sessionOnly: true },
        schema: {
          tags: ['admin'],
          summary: 'List accounts (admins only)',
          description: 'Oldest first. Needs an admin login session; API tokens cannot list accounts.',
          querystring: UsersQuery,
          response: { 200: UserListSchema, ...errorResponses(401, 403, 422) },
        },
      },
      async (request, reply) => {
        const limit = Math.min(request.query.limit, MAX_LIMIT)
        const offset = request.query.offset
        const page = await deps.users.list(request.principal!, { limit, offset })
        return reply
          .header('cache-control', 'no-store')
          .send({ items: page.items, page: { limit, offset, total: page.total } })
      },
    )
  }
}

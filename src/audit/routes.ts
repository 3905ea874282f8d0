// HTTP for the audit log (admins only, with a login session).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance } from 'fastify'
import { errorResponses } from '../http/schemas.ts'
import { millisecondCeiling } from '../time.ts'
import { AuditListSchema, AuditQuery } from './schemas.ts'
import type { AuditService } from './service.ts'

const MAX_LIMIT = 100

export function auditRoutes(deps: { audit: AuditService }) {
  return async function register(app: FastifyInstance): Promise<void> {
    app.withTypeProvider<TypeBoxTypeProvider>().get(
      '/v1/audit-events',
      {
        config: { scope: 'none', sessionOnly: true },
        schema: {
          tags: ['admin'],
          summary: 'The audit log (admins only)',
          description:
            'Newest first. Filter by `actor` (user id), `action`, and time (`from` inclusive, `to` exclusive). Needs an admin login session; API tokens cannot read it.',
          querystring: AuditQuery,
          response: { 200: AuditListSchema, ...errorResponses(401, 403, 422) },
        },
      },
      async (request, reply) => {
        const q = request.query
        const limit = Math.min(q.limit, MAX_LIMIT)
        const page = await deps.audit.list(request.principal!, {
          ...(q.actor ? { actorId: q.actor.toLowerCase() } : {}),
          ...(q.action ? { action: q.action } : {}),
          // `at >= from` and `at < to`: both bounds are the next millisecond up when finer.
          ...(q.from ? { from: millisecondCeiling(q.from) ?? q.from } : {}),
          ...(q.to ? { to: millisecondCeiling(q.to) ?? q.to } : {}),
          limit,
          offset: q.offset,
        })
        return reply
          .header('cache-control', 'no-store')
          .send({ items: page.items, page: { limit, offset: q.offset, total: page.total } })
      },
    )
  }
}

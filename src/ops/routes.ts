// Operational endpoints at the root: liveness, readiness and metrics (API.md §6).
import { timingSafeEqual } from 'node:crypto'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance } from 'fastify'
import { ApiError, serviceUnavailable } from '../errors.ts'
import { bearerToken, severalAuthorizations } from '../http/authenticate.ts'
import { sentTwice } from '../http/raw-headers.ts'
import { errorResponses } from '../http/schemas.ts'
import type { Metrics } from './metrics.ts'

const TAG = ['operations']

export interface Readiness {
  /** True once shutdown has begun. */
  isShuttingDown(): boolean
  /** Throws when a dependency the service needs does not answer. */
  checkDependencies(): Promise<void>
}

function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given)
  const b = Buffer.from(expected)
  return a.length === b.length && timingSafeEqual(a, b)
}

export function opsRoutes(deps: { readiness: Readiness; metrics: Metrics; metricsToken?: string }) {
  return async function register(app: FastifyInstance): Promise<void> {
    const open = { public: true, rateLimitPolicy: 'none' } as const

    app.get(
      '/health',
      {
        config: open,
        schema: {
          tags: TAG,
          summary: 'Liveness: the process answers (never touches dependencies)',
          security: [],
          response: {
            200: Type.Object({ status: Type.Literal('ok'), time: Type.String({ format: 'date-time' }) }),
            // Never from a dependency, but the shutdown gate (503) and Accept (406) apply to every route.
            ...errorResponses(),
          },
        },
      },
      async (_request, reply) =>
        reply.header('cache-control', 'no-store').send({ status: 'ok', time: new Date().toISOString() }),
    )

    app.get(
      '/ready',
      {
        config: open,
        schema: {
          tags: TAG,
          summary: 'Readiness: the database answers and the process is not shutting down',
          security: [],
          response: { 200: Type.Object({ status: Type.Literal('ready') }), ...errorResponses() },
        },
      },
      async (_request, reply) => {
        if (deps.readiness.isShuttingDown()) throw serviceUnavailable('Shutting down', 5)
        try {
          await deps.readiness.checkDependencies()
        } catch {
          throw serviceUnavailable('A dependency is not answering', 5)
        }
        return reply.header('cache-control', 'no-store').send({ status: 'ready' })
      },
    )

    app.get(
      '/metrics',
      {
        // Prometheus text: `Accept: text/plain` must not be 406.
        config: { ...open, produces: deps.metrics.registry.contentType },
        schema: {
          tags: TAG,
          summary: 'Prometheus metrics',
          description: 'Open unless METRICS_TOKEN is set; then send `Authorization: Bearer <METRICS_TOKEN>`.',
          security: [],
          produces: ['text/plain'],
          response: {
            200: Type.String({ description: 'Prometheus text format 0.0.4' }),
            ...errorResponses(401),
          },
        },
      },
      async (request, reply) => {
        if (deps.metricsToken) {
          // The same rule as for every other Bearer credential: one Authorization header.
          if (sentTwice(request.raw.rawHeaders, 'authorization')) throw severalAuthorizations()
          const given = bearerToken(request.headers.authorization)
          if (!given)
            throw new ApiError('UNAUTHENTICATED', 'Metrics need Authorization: Bearer <METRICS_TOKEN>', {
              headers: { 'www-authenticate': 'Bearer' },
            })
          if (!sameSecret(given, deps.metricsToken)) {
            throw new ApiError('INVALID_TOKEN', 'Metrics token is not valid', {
              headers: { 'www-authenticate': 'Bearer error="invalid_token"' },
            })
          }
        }
        const body = await deps.metrics.registry.metrics()
        return reply.header('cache-control', 'no-store').type(deps.metrics.registry.contentType).send(body)
      },
    )
  }
}

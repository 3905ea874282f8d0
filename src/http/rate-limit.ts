// Rate limits (API.md §5) on @fastify/rate-limit's counters and stores, with
// one policy chosen per request: `auth` per address on the auth endpoints,
// `user` per authenticated user, `anon` per address otherwise. The plugin's
// own headers predate the IETF draft, so the RateLimit-Policy / RateLimit
// fields (draft-ietf-httpapi-ratelimit-headers) are written here.
import rateLimit from '@fastify/rate-limit'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Redis } from 'ioredis'
import type { Config } from '../config.ts'
import { ApiError } from '../errors.ts'
import { redisWithLocalFallback } from './rate-limit-store.ts'

type PolicyName = 'user' | 'anon' | 'auth'

type Limiter = (request: FastifyRequest) => Promise<{
  isAllowed: boolean
  max?: number
  remaining?: number
  ttlInSeconds?: number
  isExceeded?: boolean
}>

const WINDOW_SECONDS = 60

export async function registerRateLimits(
  app: FastifyInstance,
  config: Config,
  redis?: Redis,
): Promise<(request: FastifyRequest, reply: FastifyReply) => Promise<void>> {
  await app.register(rateLimit, {
    global: false,
    // Shared counters in Redis, falling back to per-instance counting while Redis is down.
    ...(redis ? { store: redisWithLocalFallback(redis, app.log, 'rl:') as never } : {}),
  })
  const limits: Record<PolicyName, number> = {
    user: config.RATE_LIMIT_PER_MINUTE,
    anon: config.RATE_LIMIT_ANON_PER_MINUTE,
    auth: config.RATE_LIMIT_AUTH_PER_MINUTE,
  }
  const limiters = {} as Record<PolicyName, Limiter>
  for (const name of ['user', 'anon', 'auth'] as const) {
    limiters[name] = app.createRateLimit({
      max: Math.max(limits[name], 1),
      timeWindow: WINDOW_SECONDS * 1000,
      keyGenerator: (request: FastifyRequest) =>
        name === 'user' && request.principal ? `u:${request.principal.userId}` : `${name}:${request.ip}`,
    }) as unknown as Limiter
  }

  return async function applyRateLimit(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const routePolicy = request.is404 ? undefined : request.routeOptions.config.rateLimitPolicy
    if (routePolicy === 'none') return
    const policy: PolicyName = routePolicy === 'auth' ? 'auth' : request.principal ? 'user' : 'anon'
    const max = limits[policy]
    if (max === 0) return
    const result = await limiters[policy](request)
    if (result.isAllowed || result.max === undefined) return
    const reset = Math.max(result.ttlInSeconds ?? WINDOW_SECONDS, 0)
    const remaining = Math.max(result.remaining ?? 0, 0)
    reply.header('ratelimit-policy', `"${policy}";q=${max};w=${WINDOW_SECONDS}`)
    reply.header('ratelimit', `"${policy}";r=${result.isExceeded ? 0 : remaining};t=${reset}`)
    if (result.isExceeded) {
      throw new ApiError(
        'RATE_LIMITED',
        `Rate limit of ${max} requests per minute exceeded; retry in ${reset} s`,
        {
          headers: { 'retry-after': String(Math.max(reset, 1)) },
        },
      )
    }
  }
}

// A @fastify/rate-limit store that counts in Redis (shared by every instance)
// and falls back to the plugin's in-process LocalStore while Redis fails, so an
// outage means per-instance limits, never no limits. The plugin only offers
// "skipOnError" (stop limiting), hence this small wrapper around its own stores.
import { createRequire } from 'node:module'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'

type Result = { current: number; ttl: number }
type Callback = (error: Error | null, result?: Result) => void

/** The store contract of @fastify/rate-limit (store/LocalStore.js, store/RedisStore.js). */
interface Store {
  incr(key: string, cb: Callback, timeWindow: number, max: number): void
  read?(key: string, cb: Callback, timeWindow: number, max: number): void
  child(routeOptions: unknown): Store
}

type LocalStoreCtor = new (continueExceeding: boolean, exponentialBackoff: boolean, cache?: number) => Store
type RedisStoreCtor = new (
  continueExceeding: boolean,
  exponentialBackoff: boolean,
  redis: Redis,
  key?: string,
) => Store

// The plugin's stores are CommonJS modules without type declarations of their own.
const require = createRequire(import.meta.url)
const LocalStore = require('@fastify/rate-limit/store/LocalStore.js') as LocalStoreCtor
const RedisStore = require('@fastify/rate-limit/store/RedisStore.js') as RedisStoreCtor

/** Shared by a store and its children: whether Redis is failing, so the warning is logged once per outage. */
class RedisHealth {
  down = false
  readonly #log: FastifyBaseLogger
  constructor(log: FastifyBaseLogger) {
    this.#log = log
  }
  failed(error: Error): void {
    if (this.down) return
    this.down = true
    this.#log.warn(
      { err: error },
      'Redis is unavailable: rate limits are counted per instance until it returns',
    )
  }
  succeeded(): void {
    if (!this.down) return
    this.down = false
    this.#log.info('Redis is back: rate limits are shared across instances again')
  }
}

class FallbackStore implements Store {
  readonly #shared: Store
  readonly #local: Store
  readonly #health: RedisHealth

  constructor(shared: Store, local: Store, health: RedisHealth) {
    this.#shared = shared
    this.#local = local
    this.#health = health
  }

  incr(key: string, cb: Callback, timeWindow: number, max: number): void {
    this.#shared.incr(
      key,
      (error, result) => {
        if (!error) {
          this.#health.succeeded()
          cb(null, result)
          return
        }
        this.#health.failed(error)
        this.#local.incr(key, cb, timeWindow, max)
      },
      timeWindow,
      max,
    )
  }

  read(key: string, cb: Callback, timeWindow: number, max: number): void {
    const shared = this.#shared.read?.bind(this.#shared)
    const local = this.#local.read?.bind(this.#local)
    if (!shared || !local) {
      cb(new Error('rate-limit store cannot read without counting'))
      return
    }
    shared(
      key,
      (error, result) => {
        if (error) {
          this.#health.failed(error)
          local(key, cb, timeWindow, max)
        } else cb(null, result)
      },
      timeWindow,
      max,
    )
  }

  child(routeOptions: unknown): Store {
    return new FallbackStore(this.#sharedChild(routeOptions), this.#local.child(routeOptions), this.#health)
  }

  /**
   * RedisStore.child prefixes keys with the route's method and URL, which createRateLimit limiters
   * do not have ("undefinedundefined-"); policies here are told apart by their key generators,
   * so children count under the store's own namespace.
   */
  #sharedChild(routeOptions: unknown): Store {
    const info = (routeOptions as { routeInfo?: { method?: unknown } } | undefined)?.routeInfo
    return info?.method !== undefined ? this.#shared.child(routeOptions) : this.#shared
  }
}

/**
 * The `store` option for @fastify/rate-limit: counters in Redis under `namespace`, with an
 * in-process fallback. The plugin constructs stores itself (`new Store(options)`), hence a class
 * made per Redis client.
 */
export function redisWithLocalFallback(
  redis: Redis,
  log: FastifyBaseLogger,
  namespace = 'rl:',
): new (options: {
  continueExceeding?: boolean
  exponentialBackoff?: boolean
}) => Store {
  const health = new RedisHealth(log)
  return class RedisWithLocalFallback extends FallbackStore {
    constructor(options: { continueExceeding?: boolean; exponentialBackoff?: boolean }) {
      const continueExceeding = options.continueExceeding ?? false
      const exponentialBackoff = options.exponentialBackoff ?? false
      super(
        new RedisStore(continueExceeding, exponentialBackoff, redis, namespace),
        new LocalStore(continueExceeding, exponentialBackoff, 5000),
        health,
      )
    }
  }
}

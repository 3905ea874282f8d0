// The counters of the rate limits (rate-limit.ts): @fastify/rate-limit's own
// stores. In Redis (shared by every instance) they fall back to the plugin's
// in-process LocalStore while Redis fails, so an outage means per-instance
// limits, never no limits. The plugin only offers "skipOnError" (stop
// limiting), hence this small wrapper around its own stores.
import { createRequire } from 'node:module'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import { OutageLog } from '../outage-log.ts'

type Result = { current: number; ttl: number }
type Callback = (error: Error | null, result?: Result) => void

/** The store contract of @fastify/rate-limit (store/LocalStore.js, store/RedisStore.js). */
export interface Store {
  incr(key: string, cb: Callback, timeWindow: number, max: number): void
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

class FallbackStore implements Store {
  readonly #shared: Store
  readonly #local: Store
  readonly #outage: OutageLog

  constructor(shared: Store, local: Store, outage: OutageLog) {
    this.#shared = shared
    this.#local = local
    this.#outage = outage
  }

  incr(key: string, cb: Callback, timeWindow: number, max: number): void {
    this.#shared.incr(
      key,
      (error, result) => {
        if (!error) {
          this.#outage.ok()
          cb(null, result)
          return
        }
        this.#outage.failed(error)
        this.#local.incr(key, cb, timeWindow, max)
      },
      timeWindow,
      max,
    )
  }
}

/** The plugin's in-process store: fixed windows per key, the least recently used of `capacity` keys kept. */
export function localStore(capacity = 5000): Store {
  return new LocalStore(false, false, capacity)
}

/**
 * Stores counting in Redis under `namespace`, each with an in-process fallback of its own. The
 * stores one factory makes share the Redis store and one outage log, so an outage is logged
 * once, not once per store.
 */
export function redisWithLocalFallback(redis: Redis, log: FastifyBaseLogger, namespace = 'rl:'): () => Store {
  const outage = new OutageLog(log, {
    down: 'Redis is unavailable: rate limits are counted per instance until it returns',
    back: 'Redis is back: rate limits are shared across instances again',
  })
  const shared = new RedisStore(false, false, redis, namespace)
  return () => new FallbackStore(shared, localStore(), outage)
}

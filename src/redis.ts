// The optional Redis connection (REDIS_URL): shared rate-limit counters and
// wake-ups across instances. Redis is never required for correctness: when it
// is down, commands fail fast (no offline queue) and callers fall back locally.
import { createRequire } from 'node:module'
import type { Redis } from 'ioredis'

const require = createRequire(import.meta.url)

export interface RedisSettings {
  url: string
  /** Prepended to every key (ioredis keyPrefix) so deployments and test runs sharing a server never meet. */
  keyPrefix: string
  /** How long a command may take before it counts as a failure. */
  commandTimeoutMs?: number
}

/** Reconnect forever (so the service recovers when Redis returns), but back off to at most 2 s between tries. */
const MAX_RECONNECT_DELAY_MS = 2000

export function openRedis(settings: RedisSettings): Redis {
  // Loaded here, on first use: a service without REDIS_URL never loads ioredis (2 MB of heap).
  const { Redis } = require('ioredis') as typeof import('ioredis')
  const client = new Redis(settings.url, {
    keyPrefix: settings.keyPrefix,
    lazyConnect: true,
    // Fail at once while disconnected instead of queueing: a request must never wait on Redis.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: settings.commandTimeoutMs ?? 500,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(100 * 2 ** Math.min(attempt, 5), MAX_RECONNECT_DELAY_MS),
    connectionName: 'task-tracker',
  })
  // Connection errors surface through failing commands (and are logged once there); without a
  // listener ioredis would print every reconnect failure.
  client.on('error', () => {})
  return client
}

/**
 * Connects a lazy client, waiting at most `timeoutMs`. Returns false (and keeps reconnecting in
 * the background) when Redis is not there: the service starts anyway, with per-instance limits.
 */
export async function connectRedis(client: Redis, timeoutMs = 2000): Promise<boolean> {
  if (client.status === 'ready') return true
  if (client.status === 'wait') client.connect().catch(() => {})
  return new Promise((resolve) => {
    const done = (ok: boolean) => {
      clearTimeout(timer)
      client.off('ready', onReady)
      resolve(ok)
    }
    const onReady = () => done(true)
    const timer = setTimeout(() => done(false), timeoutMs)
    client.once('ready', onReady)
  })
}

/** Closes the connection: QUIT when connected (lets pending replies arrive), otherwise just stops reconnecting. */
export async function closeRedis(client: Redis): Promise<void> {
  if (client.status === 'ready') {
    await client.quit().catch(() => client.disconnect())
  } else {
    client.disconnect()
  }
}

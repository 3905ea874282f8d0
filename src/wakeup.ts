// Wake-ups across instances: "something on channel X changed, go and look".
// A wake-up carries no data: the database stays the truth and a missed wake-up
// only delays (callers also poll), never loses. Transport: Redis pub/sub when
// REDIS_URL is set, PostgreSQL LISTEN/NOTIFY on PostgreSQL without Redis, and
// in-process for a single instance on SQLite. Subscribers on the publishing
// instance are woken directly (no round trip, and still woken when the
// transport is down); other instances are woken through the transport.
import { randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import type { FastifyBaseLogger } from 'fastify'
import type { Redis } from 'ioredis'
import type pg from 'pg'
import { loadPg } from './db/postgres.ts'
import { OutageLog } from './outage-log.ts'

export interface Wakeups {
  /** Wakes every subscriber of `channel`, on this instance and on every other one. Never throws. */
  publish(channel: string): Promise<void>
  /** Calls `onWake` for each publish on `channel` (from any instance); returns the unsubscribe function. */
  subscribe(channel: string, onWake: () => void): () => void
  /** Which transport carries wake-ups between instances. */
  readonly transport: 'local' | 'redis' | 'postgres'
  close(): Promise<void>
}

/** Channel names are code constants ("events", "webhooks"); the rule keeps them valid everywhere. */
const CHANNEL = /^[a-z][a-z0-9_]{0,39}$/

function checkChannel(channel: string): void {
  if (!CHANNEL.test(channel)) throw new Error(`invalid wake-up channel name: ${channel}`)
}

/** In-process fan-out, and the base of the other two: local subscribers are always woken directly. */
class LocalWakeups implements Wakeups {
  readonly transport: Wakeups['transport'] = 'local'
  protected readonly emitter = new EventEmitter().setMaxListeners(0)

  async publish(channel: string): Promise<void> {
    checkChannel(channel)
    this.wakeLocal(channel)
  }

  subscribe(channel: string, onWake: () => void): () => void {
    checkChannel(channel)
    const first = this.emitter.listenerCount(channel) === 0
    this.emitter.on(channel, onWake)
    if (first) this.listen(channel)
    return () => {
      this.emitter.off(channel, onWake)
    }
  }

  protected wakeLocal(channel: string): void {
    for (const listener of this.emitter.listeners(channel)) {
      // A failing subscriber must not stop the others or the publisher.
      try {
        ;(listener as () => void)()
      } catch {}
    }
  }

  /** Starts receiving `channel` from other instances (no-op in-process). */
  protected listen(_channel: string): void {}

  async close(): Promise<void> {
    this.emitter.removeAllListeners()
  }
}

/** A transport's outage, logged once when it begins and once when it ends. */
const transportOutage = (log: FastifyBaseLogger, what: string) =>
  new OutageLog(log, {
    down: `${what} is unavailable: wake-ups reach this instance only until it returns`,
    back: `${what} is back: wake-ups reach every instance again`,
  })

/** Redis pub/sub: PUBLISH on the shared client; a second connection (pub/sub needs its own) subscribes. */
class RedisWakeups extends LocalWakeups {
  override readonly transport = 'redis' as const
  readonly #instance = randomUUID()
  readonly #publisher: Redis
  readonly #subscriber: Redis
  readonly #prefix: string
  readonly #outage: OutageLog

  constructor(redis: Redis, prefix: string, log: FastifyBaseLogger) {
    super()
    this.#publisher = redis
    this.#prefix = prefix
    this.#outage = transportOutage(log, 'Redis')
    // Subscriptions may wait for a connection (nothing waits on them) and are restored on reconnect.
    this.#subscriber = redis.duplicate({
      enableOfflineQueue: true,
      maxRetriesPerRequest: null,
      lazyConnect: true,
    })
    this.#subscriber.on('error', () => {})
    this.#subscriber.on('message', (fullChannel: string, sender: string) => {
      if (sender === this.#instance || !fullChannel.startsWith(this.#prefix)) return
      this.wakeLocal(fullChannel.slice(this.#prefix.length))
    })
  }

  override async publish(channel: string): Promise<void> {
    await super.publish(channel)
    try {
      await this.#publisher.publish(this.#prefix + channel, this.#instance)
      this.#outage.ok()
    } catch (err) {
      this.#outage.failed(err)
    }
  }

  protected override listen(channel: string): void {
    this.#subscriber.subscribe(this.#prefix + channel).catch((err: unknown) => this.#outage.failed(err))
  }

  override async close(): Promise<void> {
    await super.close()
    if (this.#subscriber.status === 'ready') await this.#subscriber.quit().catch(() => {})
    this.#subscriber.disconnect()
  }
}

/**
 * PostgreSQL LISTEN/NOTIFY. Channels are per database, so they are scoped by the schema the
 * service uses (deployments sharing a database in separate schemas do not wake each other).
 * The listening connection is kept by hand: pg has no auto-reconnecting listener, and the
 * pool cannot be used because LISTEN belongs to one session.
 */
class PostgresWakeups extends LocalWakeups {
  override readonly transport = 'postgres' as const
  readonly #instance = randomUUID()
  readonly #url: string
  readonly #outage: OutageLog
  readonly #channels = new Set<string>()
  #client: pg.Client | undefined
  #scope: string | undefined
  #closed = false
  #retryTimer: NodeJS.Timeout | undefined
  #attempt = 0
  /** The current listening session's queries, one at a time (see #onSession). */
  #session: Promise<unknown> = Promise.resolve()

  constructor(url: string, log: FastifyBaseLogger) {
    super()
    this.#url = url
    this.#outage = transportOutage(log, 'PostgreSQL LISTEN/NOTIFY')
  }

  override async publish(channel: string): Promise<void> {
    await super.publish(channel)
    // NOTIFY through the listening session when it is up; otherwise through a short-lived one.
    const live = this.#client
    const temporary = live
      ? undefined
      : new (loadPg().Client)({ connectionString: this.#url, connectionTimeoutMillis: 2000 })
    temporary?.on('error', () => {})
    try {
      if (temporary) await temporary.connect()
      const session = (live ?? temporary) as pg.Client
      const scope = this.#scope ?? (await this.#scopeOf(session))
      const send = () => session.query('SELECT pg_notify($1, $2)', [`${scope}.${channel}`, this.#instance])
      await (live ? this.#onSession(send) : send())
      this.#outage.ok()
    } catch (err) {
      this.#outage.failed(err)
    } finally {
      await temporary?.end().catch(() => {})
    }
  }

  protected override listen(channel: string): void {
    this.#channels.add(channel)
    if (this.#client && this.#scope) this.#listenOn(this.#client, this.#scope, channel)
    else if (!this.#retryTimer && !this.#connecting) void this.#connect()
  }

  #connecting = false

  async #scopeOf(client: pg.Client): Promise<string> {
    const { rows } = await client.query<{ schema: string }>('SELECT current_schema() AS schema')
    this.#scope = rows[0]?.schema ?? 'public'
    return this.#scope
  }

  #listenOn(client: pg.Client, scope: string, channel: string): void {
    this.#onSession(() => client.query(`LISTEN ${client.escapeIdentifier(`${scope}.${channel}`)}`)).catch(
      (err: unknown) => this.#outage.failed(err),
    )
  }

  /**
   * Runs `query` on the listening session once the queries sent before it have returned. Publishes
   * and LISTENs come at any time; pg would queue them on the one busy connection itself, but that
   * is deprecated (gone in pg@9).
   */
  #onSession<T>(query: () => Promise<T>): Promise<T> {
    const result = this.#session.then(query)
    this.#session = result.catch(() => {})
    return result
  }

  async #connect(): Promise<void> {
    if (this.#closed) return
    this.#connecting = true
    const client = new (loadPg().Client)({ connectionString: this.#url, connectionTimeoutMillis: 2000 })
    const lost = (err?: unknown) => {
      if (this.#client === client) this.#client = undefined
      client.removeAllListeners('end')
      client.end().catch(() => {})
      if (this.#closed || this.#retryTimer) return
      if (err) this.#outage.failed(err)
      // Back off up to 2 s; after a reconnect every channel is listened to again.
      const delay = Math.min(100 * 2 ** Math.min(this.#attempt++, 5), 2000)
      this.#retryTimer = setTimeout(() => {
        this.#retryTimer = undefined
        void this.#connect()
      }, delay)
      this.#retryTimer.unref()
    }
    client.on('error', lost)
    client.on('end', () => lost(new Error('listening connection ended')))
    client.on('notification', (message) => {
      const scope = this.#scope
      if (!scope || message.payload === this.#instance || !message.channel.startsWith(`${scope}.`)) return
      this.wakeLocal(message.channel.slice(scope.length + 1))
    })
    try {
      await client.connect()
      const scope = await this.#scopeOf(client)
      if (this.#closed) {
        await client.end()
        return
      }
      this.#client = client
      // A new session's queries do not wait on the last one's: those fail as it ends.
      this.#session = Promise.resolve()
      this.#attempt = 0
      for (const channel of this.#channels) this.#listenOn(client, scope, channel)
      this.#outage.ok()
    } catch (err) {
      lost(err)
    } finally {
      this.#connecting = false
    }
  }

  override async close(): Promise<void> {
    this.#closed = true
    await super.close()
    clearTimeout(this.#retryTimer)
    const client = this.#client
    this.#client = undefined
    if (client) {
      client.removeAllListeners('end')
      await client.end().catch(() => {})
    }
  }
}

/** Picks the transport: Redis when configured, else LISTEN/NOTIFY on PostgreSQL, else in-process. */
export function openWakeups(options: {
  redis?: Redis
  redisPrefix?: string
  postgresUrl?: string
  log: FastifyBaseLogger
}): Wakeups {
  if (options.redis) return new RedisWakeups(options.redis, `${options.redisPrefix ?? ''}wake:`, options.log)
  if (options.postgresUrl) return new PostgresWakeups(options.postgresUrl, options.log)
  return new LocalWakeups()
}

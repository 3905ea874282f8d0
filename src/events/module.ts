// Wires the events feature (outbox recorder, wake-ups, SSE streams, webhooks API, dispatcher,
// retention) so app.ts registers it in a few lines.
import type { FastifyInstance } from 'fastify'
import { Gauge, type Registry } from 'prom-client'
import type { Config } from '../config.ts'
import type { Database } from '../db/database.ts'
import type { Clock } from '../time.ts'
import type { Wakeups } from '../wakeup.ts'
import { type Dispatcher, startDispatcher } from '../webhooks/dispatcher.ts'
import { countPendingDeliveries, oldestPendingDelivery } from '../webhooks/queue-repository.ts'
import { parseRetrySchedule } from '../webhooks/retry.ts'
import { webhookRoutes } from '../webhooks/routes.ts'
import { WebhookService } from '../webhooks/service.ts'
import { OutboxRecorder } from './outbox.ts'
import type { EventRecorder } from './recorder.ts'
import { type RetentionJob, startEventRetention } from './retention.ts'
import { eventRoutes } from './routes.ts'
import { type EventSignal, localEventSignal, postgresEventSignal } from './signal.ts'
import { EventStreams } from './stream.ts'

const EVENTS_WAKEUP_CHANNEL = 'events'

export interface EventsModule {
  recorder: EventRecorder
  signal: EventSignal
  streams: EventStreams
  webhooks: WebhookService
  /** Registers GET /v1/events and the /v1/webhooks routes. */
  routes(app: FastifyInstance): Promise<void>
  /** Starts the dispatcher and the retention job (not in tests that do not want them). */
  startWorkers(): void
  /** Ends open streams; runs in preClose so the server can close. */
  closeStreams(): void
  /** Shutdown has begun: the dispatcher claims nothing more and interrupts attempts still in flight after `graceMs`. */
  drain(graceMs: number): void
  /** Stops workers after their current job, then the listener. */
  stop(): Promise<void>
  /** Adds the event backlog (pending deliveries, age of the oldest) and open streams to /metrics. */
  registerMetrics(registry: Registry): void
}

export function createEventsModule(deps: {
  config: Config
  database: Database
  clock: Clock
  app: FastifyInstance
  wakeups: Wakeups
}): EventsModule {
  const { config, database, clock, app, wakeups } = deps
  const signal =
    database.engine === 'postgres' && config.DATABASE_URL
      ? postgresEventSignal(config.DATABASE_URL, app.log, {
          connectTimeoutMs: config.DATABASE_CONNECT_TIMEOUT_MS,
          queryTimeoutMs: config.DATABASE_STATEMENT_TIMEOUT_MS + 1000,
        })
      : localEventSignal()
  app.addHook('onReady', () => signal.start())
  // With REDIS_URL, events fan out through Redis pub/sub too: a writer publishes after commit,
  // every instance's readers wake. PostgreSQL's NOTIFY after commit (EventSignal.committed)
  // stays as well, and readers poll: a lost wake-up only delays.
  let publishAfterCommit: (() => void) | undefined
  if (wakeups.transport === 'redis') {
    wakeups.subscribe(EVENTS_WAKEUP_CHANNEL, () => signal.wake())
    publishAfterCommit = () => void wakeups.publish(EVENTS_WAKEUP_CHANNEL)
  }
  const recorder = new OutboxRecorder({ engine: database.engine, clock, signal, publishAfterCommit })
  const streams = new EventStreams({
    database,
    signal,
    settings: {
      heartbeatMs: config.EVENTS_HEARTBEAT_SECONDS * 1000,
      pollIntervalMs: config.EVENTS_POLL_INTERVAL_MS,
    },
    log: app.log,
  })
  const webhooks = new WebhookService({
    database,
    clock,
    allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
    signal,
  })
  let dispatcher: Dispatcher | undefined
  let retention: RetentionJob | undefined

  return {
    recorder,
    signal,
    streams,
    webhooks,
    async routes(instance) {
      await instance.register(eventRoutes({ streams, credentialRecheckMs: config.CREDENTIAL_RECHECK_MS }))
      await instance.register(webhookRoutes({ webhooks }))
    },
    startWorkers() {
      dispatcher = startDispatcher({
        database,
        clock,
        signal,
        log: app.log.child({ job: 'webhooks' }),
        settings: {
          schedule: parseRetrySchedule(config.WEBHOOK_RETRY_SCHEDULE),
          timeoutMs: config.WEBHOOK_TIMEOUT_MS,
          leaseSeconds: config.WEBHOOK_LEASE_SECONDS,
          concurrency: config.WEBHOOK_CONCURRENCY,
          pollIntervalMs: config.WEBHOOK_POLL_INTERVAL_MS,
          disableAfterFailures: config.WEBHOOK_DISABLE_AFTER_FAILURES,
          allowPrivate: config.WEBHOOK_ALLOW_PRIVATE,
        },
      })
      retention = startEventRetention({
        database,
        clock,
        retentionHours: config.EVENT_RETENTION_HOURS,
        intervalSeconds: config.PURGE_INTERVAL_SECONDS,
        log: app.log,
      })
    },
    closeStreams: () => streams.closeAll(),
    registerMetrics(registry) {
      new Gauge({
        name: 'webhook_deliveries_pending',
        help: 'Webhook deliveries waiting to be made (the event backlog)',
        registers: [registry],
        async collect() {
          // NaN (Prometheus's "no value") when the database cannot answer: /metrics must still
          // answer during an outage, which is when its other figures matter.
          this.set(await countPendingDeliveries(database.db).catch(() => Number.NaN))
        },
      })
      new Gauge({
        name: 'webhook_oldest_pending_delivery_age_seconds',
        help: 'Age of the oldest pending webhook delivery (0 when none)',
        registers: [registry],
        async collect() {
          const oldest = await oldestPendingDelivery(database.db).catch(() => null)
          if (oldest === null)
            this.set(Number.NaN) // the database cannot answer, as above
          else this.set(oldest ? Math.max(0, (clock().getTime() - Date.parse(oldest)) / 1000) : 0)
        },
      })
      new Gauge({
        name: 'event_streams_open',
        help: 'Open GET /v1/events streams on this instance',
        registers: [registry],
        collect() {
          this.set(streams.openCount)
        },
      })
    },
    drain(graceMs) {
      dispatcher?.drain(graceMs)
    },
    async stop() {
      streams.closeAll()
      await Promise.all([dispatcher?.stop(), retention?.stop()])
      await signal.close()
    },
  }
}

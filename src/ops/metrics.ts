// Prometheus metrics: request counts and latency by route and status, plus
// process metrics. One registry per app so tests can build many apps.
import type { FastifyInstance } from 'fastify'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

export class Metrics {
  readonly registry = new Registry()
  readonly #requests = new Counter({
    name: 'http_requests_total',
    help: 'HTTP requests by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    registers: [this.registry],
  })
  readonly #duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'HTTP request latency by method, route and status',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  })

  constructor() {
    collectDefaultMetrics({ register: this.registry })
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) }
    this.#requests.inc(labels)
    this.#duration.observe(labels, seconds)
  }

  /** Records every response once it is sent; unmatched routes share one label so scans cannot explode cardinality. */
  register(app: FastifyInstance): void {
    app.addHook('onResponse', async (request, reply) => {
      const route = request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched')
      this.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000)
    })
  }

  /** Database pool gauges (PostgreSQL), read at scrape time; nothing is registered when the engine has no pool. */
  observeDatabasePool(poolStats: () => { total: number; idle: number; waiting: number } | undefined): void {
    if (poolStats() === undefined) return
    const gauge = (
      name: string,
      help: string,
      pick: (s: { total: number; idle: number; waiting: number }) => number,
    ) =>
      new Gauge({
        name,
        help,
        registers: [this.registry],
        collect() {
          const stats = poolStats()
          if (stats) this.set(pick(stats))
        },
      })
    gauge('db_pool_connections', 'Open database connections in the pool', (s) => s.total)
    gauge('db_pool_idle_connections', 'Idle database connections in the pool', (s) => s.idle)
    gauge('db_pool_waiting_requests', 'Queries waiting for a database connection', (s) => s.waiting)
  }
}

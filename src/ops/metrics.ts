// Prometheus metrics: request counts and latency by route and status, the
// database pool, and process metrics. One registry per app so tests can build many apps.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Records a response in the request metrics, as the onResponse hook does. For responses that
     * never finish because the client went away (a live event stream), which no onResponse sees.
     */
    observeResponse?: (request: FastifyRequest, reply: FastifyReply) => void
  }
}

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

  constructor(
    deps: {
      poolStats?: () => { total: number; idle: number; waiting: number } | undefined
      offThreadPending?: () => number
      searchResults?: () => { hits: number; misses: number }
    } = {},
  ) {
    collectDefaultMetrics({ register: this.registry })
    const offThreadPending = deps.offThreadPending
    if (offThreadPending) {
      new Gauge({
        name: 'db_search_reads_pending',
        help: 'Full-text searches queued or running on the search threads (SQLite; see src/db/sqlite-reader.ts)',
        registers: [this.registry],
        collect() {
          this.set(offThreadPending())
        },
      })
    }
    const searchResults = deps.searchResults
    if (searchResults) {
      // Counted by the cache itself; a scrape copies its counts.
      new Counter({
        name: 'db_search_results_total',
        help: 'Full-text searches looked up in the result cache, by whether it answered them (hit) or the database did (miss); see src/db/result-cache.ts',
        labelNames: ['result'] as const,
        registers: [this.registry],
        collect() {
          const { hits, misses } = searchResults()
          this.reset()
          this.inc({ result: 'hit' }, hits)
          this.inc({ result: 'miss' }, misses)
        },
      })
    }
    const poolStats = deps.poolStats
    if (poolStats) {
      // Read at scrape time; engines without a pool (SQLite) report nothing rather than zeros.
      new Gauge({
        name: 'db_pool_connections',
        help: 'Database pool connections by state (PostgreSQL): total, idle, and clients waiting for one',
        labelNames: ['state'] as const,
        registers: [this.registry],
        collect() {
          const stats = poolStats()
          if (!stats) return
          this.set({ state: 'total' }, stats.total)
          this.set({ state: 'idle' }, stats.idle)
          this.set({ state: 'waiting' }, stats.waiting)
        },
      })
    }
  }

  observeRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) }
    this.#requests.inc(labels)
    this.#duration.observe(labels, seconds)
  }

  /** Records every response once it is sent; unmatched routes share one label so scans cannot explode cardinality. */
  register(app: FastifyInstance): void {
    const observe = (request: FastifyRequest, reply: FastifyReply) => {
      const route = request.is404 ? 'unmatched' : (request.routeOptions.url ?? 'unmatched')
      this.observeRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000)
    }
    app.decorate('observeResponse', observe)
    // Callback-style: an async hook costs a promise on every response.
    app.addHook('onResponse', (request, reply, done) => {
      observe(request, reply)
      done()
    })
  }
}

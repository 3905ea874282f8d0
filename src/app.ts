// buildApp(config): the whole service as a ready Fastify instance. Everything
// is registered here, explicitly and in order; main.ts only listens.
import { constants as zlib } from 'node:zlib'
import accepts from '@fastify/accepts'
import compress from '@fastify/compress'
import cors from '@fastify/cors'
import Fastify, { type FastifyInstance, LogController } from 'fastify'
import { AuditLog } from './audit/recorder.ts'
import { auditRoutes } from './audit/routes.ts'
import { AuditService } from './audit/service.ts'
import { apiTokenRoutes } from './auth/api-token-routes.ts'
import { ApiTokenService } from './auth/api-tokens.ts'
import { externalProvider } from './auth/external.ts'
import { SigningKeys } from './auth/keys.ts'
import { liveSessionRole } from './auth/repository.ts'
import { authRoutes } from './auth/routes.ts'
import { AuthService } from './auth/service.ts'
import { LoginThrottle } from './auth/throttle.ts'
import { AccessTokens } from './auth/tokens.ts'
import { BearerVerifier } from './auth/verifier.ts'
import type { Config } from './config.ts'
import { type Database, openDatabase } from './db/database.ts'
import { migrateToLatest } from './db/migrate.ts'
import { createEventsModule } from './events/module.ts'
import type { EventRecorder } from './events/recorder.ts'
import { registerAuthentication } from './http/authenticate.ts'
import { frameworkErrorHandler, registerErrorHandler } from './http/error-handler.ts'
import { registerLifecycle, requestIdFor } from './http/lifecycle.ts'
import { registerNotFound } from './http/not-found.ts'
import { registerOpenApi } from './http/openapi.ts'
import { rateLimitHook } from './http/rate-limit.ts'
import { ErrorSchema } from './http/schemas.ts'
import { API_SECURITY, registerSecurityHeaders } from './http/security-headers.ts'
import './http/types.ts'
import { UserSchema } from './auth/schemas.ts'
import { answerOutsideRouting, clientErrorHandler } from './http/client-errors.ts'
import { validatorCompiler } from './http/validation.ts'
import { IdempotencyService } from './idempotency/service.ts'
import { batchedStdout, scrubSecrets } from './logging.ts'
import { Metrics } from './ops/metrics.ts'
import { opsRoutes } from './ops/routes.ts'
import { closeRedis, connectRedis, openRedis } from './redis.ts'
import { startPurgeJob } from './tasks/purge.ts'
import { taskRoutes } from './tasks/routes.ts'
import { TaskSchema } from './tasks/schemas.ts'
import { TaskService } from './tasks/service.ts'
import { type Clock, systemClock } from './time.ts'
import { userRoutes } from './users/routes.ts'
import { UserService } from './users/service.ts'
import { openWakeups, type Wakeups } from './wakeup.ts'

export const VERSION = '0.1.0'

export interface AppOverrides {
  clock?: Clock
  database?: Database
  events?: EventRecorder
  /** Pino destination for tests that read the logs; stdout otherwise. */
  logStream?: NodeJS.WritableStream
  /** Start background jobs (default true). */
  backgroundJobs?: boolean
}

/**
 * How long after the shutdown signal a job in flight may run: the shutdown timeout less what
 * giving interrupted work back and closing connections need (a second, or a quarter of a short timeout).
 */
export const workerGraceMs = (shutdownTimeoutMs: number) =>
  shutdownTimeoutMs - Math.min(1000, Math.floor(shutdownTimeoutMs / 4))

export interface AppState {
  shuttingDown: boolean
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Marks the app as draining: /ready answers 503; requests still served get Connection: close;
     * the webhook dispatcher claims nothing more and interrupts its attempts before the shutdown timeout.
     */
    beginShutdown(): void
    database: Database
    /** Cross-instance wake-ups (Redis pub/sub, PostgreSQL LISTEN/NOTIFY or in-process); see src/wakeup.ts. */
    wakeups: Wakeups
  }
}

export async function buildApp(config: Config, overrides: AppOverrides = {}): Promise<FastifyInstance> {
  const clock = overrides.clock ?? systemClock
  const database = overrides.database ?? openDatabase(config)
  const state: AppState = { shuttingDown: false }
  const redis = config.REDIS_URL
    ? openRedis({ url: config.REDIS_URL, keyPrefix: config.REDIS_KEY_PREFIX })
    : undefined

  const app = Fastify({
    logger: {
      level: config.LOG_LEVEL,
      // Secrets never reach a line: see src/logging.ts (pino's wildcard `redact` cost 8 % of a GET).
      formatters: { log: scrubSecrets },
      // stdout in batches (src/logging.ts); tests hand in a stream of their own.
      stream: overrides.logStream ?? batchedStdout(),
    },
    genReqId: requestIdFor,
    requestIdHeader: false,
    // One line per request is written by the onResponse hook in http/lifecycle.ts.
    logController: new LogController({ requestIdLogLabel: 'requestId', disableRequestLogging: true }),
    bodyLimit: config.BODY_LIMIT_BYTES,
    trustProxy: config.TRUST_PROXY,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
    routerOptions: { ignoreTrailingSlash: false, maxParamLength: 200 },
    frameworkErrors: frameworkErrorHandler,
    clientErrorHandler,
    // Node refuses an HTTP/1.1 request without Host with a bare 400; src/http/lifecycle.ts
    // refuses it (and one with two Host headers, which Node takes) in API.md §1's body instead.
    http: { requireHostHeader: false },
  })
  answerOutsideRouting(app)
  app.decorate('database', database)
  // onClose hooks run last-registered first: registered first, the database closes last,
  // after every job, worker and stream that uses it has stopped.
  app.addHook('onClose', () => database.close())
  // Likewise Redis closes after everything that publishes or counts through it.
  if (redis) app.addHook('onClose', () => closeRedis(redis))
  // What else starts at the first signal, as the modules that need it are built.
  const onShutdownBegun: Array<() => void> = []
  app.decorate('beginShutdown', () => {
    state.shuttingDown = true
    for (const begin of onShutdownBegun) begin()
  })

  try {
    await migrateToLatest(database)
    const signingKeys = await SigningKeys.open({
      database,
      secret: config.KEY_ENCRYPTION_SECRET,
      importPem: config.JWT_PRIVATE_KEY,
      dataDir: config.DATA_DIR,
      accessTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
    })
    const checkSession = (userId: string, sessionId: string | undefined) =>
      liveSessionRole(database.db, userId, sessionId)
    const tokens = new AccessTokens(
      {
        issuer: config.JWT_ISSUER,
        audience: config.JWT_AUDIENCE,
        accessTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
        recheckMs: config.CREDENTIAL_RECHECK_MS,
      },
      signingKeys,
      checkSession,
    )
    const audit = new AuditLog(clock)
    const auth = new AuthService({
      database,
      tokens,
      clock,
      refreshTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
      audit,
      throttle: new LoginThrottle(
        {
          maxPerAccount: config.LOGIN_MAX_FAILURES_PER_ACCOUNT,
          maxPerAddress: config.LOGIN_MAX_FAILURES_PER_ADDRESS,
          lockoutSeconds: config.LOGIN_LOCKOUT_SECONDS,
        },
        clock,
      ),
    })
    const apiTokens = new ApiTokenService({ database, audit, clock, recheckMs: config.CREDENTIAL_RECHECK_MS })
    const external = externalProvider(config, { database, audit, clock, checkUser: checkSession })
    const users = new UserService({ database, audit, clock })
    if (redis && !(await connectRedis(redis)))
      app.log.warn('Redis is not reachable at start: rate limits are per instance until it answers')
    const wakeups = openWakeups({
      redis,
      redisPrefix: config.REDIS_KEY_PREFIX,
      postgresUrl: database.engine === 'postgres' ? config.DATABASE_URL : undefined,
      log: app.log,
    })
    app.decorate('wakeups', wakeups)
    app.addHook('onClose', () => wakeups.close())
    const events = createEventsModule({ config, database, clock, app, wakeups })
    const tasks = new TaskService({
      database,
      clock,
      events: overrides.events ?? events.recorder,
      requireIfMatch: config.REQUIRE_IF_MATCH,
      audit,
    })
    const idempotency = new IdempotencyService({ database, clock, ttlHours: config.IDEMPOTENCY_TTL_HOURS })
    const searchCache = database.searchCache
    const metrics = new Metrics({
      poolStats: () => database.poolStats(),
      offThreadPending: database.offThreadPending?.bind(database),
      searchResults: searchCache && (() => searchCache.results.counts),
    })
    events.registerMetrics(metrics.registry)

    app.setValidatorCompiler(validatorCompiler)
    app.addSchema(ErrorSchema)
    app.addSchema(TaskSchema)
    app.addSchema(UserSchema)
    registerErrorHandler(app)
    registerNotFound(app)
    await app.register(accepts)
    // Before any route exists (the cors plugin adds OPTIONS *), so its onRoute hook sees every route.
    const { resolvePrincipal, enforceAccess } = registerAuthentication(
      app,
      new BearerVerifier({ tokens, apiTokens, external }),
    )
    // Order of the onRequest hooks: security headers, request id / shutdown gate / 406, CORS,
    // then authentication and rate limits, so every answer (a 401 or 429 included) carries the
    // security headers and, for allowed origins, the CORS headers a browser needs to read it.
    registerSecurityHeaders(app, API_SECURITY)
    registerLifecycle(app, { isShuttingDown: () => state.shuttingDown })
    const origins = config.CORS_ORIGINS.split(',')
      .map((o) => o.trim())
      .filter(Boolean)
    await app.register(cors, {
      // A function, not the list: with a list the plugin still sends Allow-Methods/Headers and
      // Max-Age to origins it refuses; returning false sends no CORS header at all.
      origin: origins.includes('*')
        ? '*'
        : (origin: string | undefined, allow: (error: Error | null, allowed: boolean) => void) =>
            allow(null, origin !== undefined && origins.includes(origin)),
      methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE', 'OPTIONS'],
      allowedHeaders: [
        'Authorization',
        'Content-Type',
        'If-Match',
        'If-None-Match',
        'Idempotency-Key',
        'X-Request-Id',
        'Last-Event-ID',
      ],
      exposedHeaders: [
        'ETag',
        'Location',
        'Link',
        'X-Request-Id',
        'RateLimit',
        'RateLimit-Policy',
        'Retry-After',
        'Idempotency-Replayed',
        'Allow',
        // Says why a 401 or 403 was given (invalid_token, insufficient_scope): a browser app reads it.
        'WWW-Authenticate',
      ],
      maxAge: 600,
      // An OPTIONS that is no preflight of an allowed origin (no Origin, or one refused) is not
      // answered by the plugin with a text/plain 400: it reaches the not-found handler, which
      // answers 405 with the path's methods in Allow (OPTIONS is served to preflights only).
      strictPreflight: false,
    })
    metrics.register(app)

    const applyRateLimit = rateLimitHook(config, app.log, redis)
    app.addHook('onRequest', resolvePrincipal)
    app.addHook('onRequest', applyRateLimit)
    app.addHook('onRequest', enforceAccess)

    await app.register(compress, {
      global: true,
      threshold: 1025, // API.md §5: responses *over* 1 KiB
      encodings: ['br', 'gzip'],
      // Brotli's default quality (11) costs far more CPU than it saves on JSON; 4 is the usual API setting.
      brotliOptions: { params: { [zlib.BROTLI_PARAM_QUALITY]: 4 } },
    })
    await registerOpenApi(app, VERSION)

    await app.register(
      opsRoutes({
        readiness: { isShuttingDown: () => state.shuttingDown, checkDependencies: () => database.ping() },
        metrics,
        metricsToken: config.METRICS_TOKEN,
      }),
    )
    await app.register(authRoutes({ auth, tokens }))
    await app.register(taskRoutes({ tasks, idempotency }))
    await app.register(apiTokenRoutes({ apiTokens }))
    await app.register(userRoutes({ users }))
    await app.register(auditRoutes({ audit: new AuditService(database) }))
    await app.register(events.routes)

    if (overrides.backgroundJobs !== false) {
      const purge = startPurgeJob({
        database,
        clock,
        retentionDays: config.TASK_RETENTION_DAYS,
        intervalSeconds: config.PURGE_INTERVAL_SECONDS,
        log: app.log,
      })
      app.addHook('onClose', () => purge.stop())
    }
    // Events stop (the dispatcher after its current job) before the database closes.
    // Open streams end in preClose, or the server could not close.
    app.addHook('preClose', async () => events.closeStreams())
    app.addHook('onClose', () => events.stop())
    // Workers take no new job once shutdown begins, and jobs in flight end before the process
    // must (SHUTDOWN_TIMEOUT_MS counts from the signal), keeping time to give their work back.
    onShutdownBegun.push(() => events.drain(workerGraceMs(config.SHUTDOWN_TIMEOUT_MS)))
    if (overrides.backgroundJobs !== false) events.startWorkers()
    await app.ready()
    return app
  } catch (error) {
    await app.close().catch(() => {})
    if (redis) await closeRedis(redis).catch(() => {})
    await database.close().catch(() => {})
    throw error
  }
}

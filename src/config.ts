// Configuration: one TypeBox schema for the environment, validated once at boot.
// The Config type is derived from the schema; nothing else reads process.env.
import { createPrivateKey } from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { type Static, Type } from '@sinclair/typebox'
import { Value } from '@sinclair/typebox/value'

const Int = (def: number, min: number, max: number, description: string) =>
  Type.Integer({ default: def, minimum: min, maximum: max, description })
const Bool = (def: boolean, description: string) => Type.Boolean({ default: def, description })
const Str = (def: string, description: string) => Type.String({ default: def, description })
const OptionalSecret = (description: string) => Type.Optional(Type.String({ minLength: 1, description }))

export const ConfigSchema = Type.Object({
  PORT: Int(3000, 0, 65535, 'TCP port to listen on (0 picks a free port)'),
  HOST: Str('127.0.0.1', 'Address to bind'),
  LOG_LEVEL: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info', description: 'pino log level' },
  ),
  DATA_DIR: Str('./data', 'Directory for the embedded database and generated keys'),
  DATABASE_URL: Type.Optional(
    Type.String({
      pattern: '^postgres(ql)?://',
      description: 'postgres://… to use PostgreSQL; unset for SQLite',
    }),
  ),
  DATABASE_POOL_MAX: Int(10, 1, 1000, 'PostgreSQL pool size'),
  DATABASE_STATEMENT_TIMEOUT_MS: Int(5000, 100, 600_000, 'PostgreSQL statement timeout'),
  DATABASE_CONNECT_TIMEOUT_MS: Int(1500, 100, 60_000, 'PostgreSQL connect / pool checkout timeout'),
  SEARCH_THREADS: Int(
    2,
    1,
    16,
    'SQLite: threads for full-text searches, each started when the ones before are all busy',
  ),
  SEARCH_CACHE_MB: Int(2, 0, 1024, 'MiB of full-text search results kept until the data changes (0 = off)'),
  REDIS_URL: Type.Optional(
    Type.String({ pattern: '^rediss?://', description: 'redis://… for shared limits and fan-out' }),
  ),
  BODY_LIMIT_BYTES: Int(1_048_576, 1024, 100 * 1_048_576, 'Largest accepted request body'),
  TRUST_PROXY: Bool(false, 'Trust X-Forwarded-For for the client address'),
  JWT_ISSUER: Str('task-tracker', 'iss claim of access tokens'),
  JWT_AUDIENCE: Str('task-tracker-api', 'aud claim of access tokens'),
  JWT_PRIVATE_KEY: OptionalSecret(
    'PKCS#8 PEM Ed25519 private key, imported once into the database key set (one is generated there when unset)',
  ),
  ACCESS_TOKEN_TTL_SECONDS: Int(900, 30, 86_400, 'Access token lifetime'),
  REFRESH_TOKEN_TTL_SECONDS: Int(30 * 86_400, 60, 365 * 86_400, 'Refresh token lifetime'),
  RATE_LIMIT_PER_MINUTE: Int(600, 0, 1_000_000, 'Requests per minute per user (0 = off)'),
  RATE_LIMIT_ANON_PER_MINUTE: Int(
    120,
    0,
    1_000_000,
    'Requests per minute per client address when anonymous (0 = off)',
  ),
  RATE_LIMIT_AUTH_PER_MINUTE: Int(
    20,
    0,
    1_000_000,
    'Requests per minute per address on /v1/auth/* (0 = off)',
  ),
  CORS_ORIGINS: Str('', 'Comma-separated allowed origins; empty = no cross-origin access; * = any'),
  METRICS_TOKEN: OptionalSecret('When set, /metrics needs Authorization: Bearer <token>'),
  SHUTDOWN_TIMEOUT_MS: Int(10_000, 0, 600_000, 'How long in-flight requests may finish after SIGTERM'),
  TASK_RETENTION_DAYS: Int(30, 0, 3650, 'Days a deleted task is kept before it is purged'),
  PURGE_INTERVAL_SECONDS: Int(3600, 1, 86_400, 'How often the purge job runs'),
  IDEMPOTENCY_TTL_HOURS: Int(24, 1, 720, 'How long Idempotency-Key responses are replayed'),
  REQUIRE_IF_MATCH: Bool(false, 'Require If-Match on PATCH and DELETE (428 without it)'),
  KEY_ENCRYPTION_SECRET: Type.Optional(
    Type.String({
      minLength: 32,
      description: 'Encrypts signing keys stored in the database (AES-256-GCM); at least 32 characters',
    }),
  ),
  LOGIN_MAX_FAILURES_PER_ACCOUNT: Int(5, 1, 1000, 'Failed logins per email before it is locked'),
  LOGIN_MAX_FAILURES_PER_ADDRESS: Int(
    100,
    1,
    100_000,
    'Failed logins per client address before it is locked',
  ),
  LOGIN_LOCKOUT_SECONDS: Int(900, 1, 86_400, 'Failure-counting window and lockout length'),
  AUTH_JWKS_URL: Type.Optional(
    Type.String({ pattern: '^https?://', description: 'JWKS of an external OpenID Connect provider' }),
  ),
  AUTH_ISSUER: Type.Optional(Type.String({ minLength: 1, description: 'iss of the external provider' })),
  AUTH_AUDIENCE: Type.Optional(
    Type.String({ minLength: 1, description: 'aud the provider puts in tokens for us' }),
  ),
  AUTH_SCOPE_CLAIM: Str('scope', 'Claim holding scopes in external tokens (space-separated or array)'),
  AUTH_ROLE_CLAIM: Type.Optional(
    Type.String({
      minLength: 1,
      description: 'Claim holding the role in external tokens; unset = role kept locally',
    }),
  ),
  AUTH_ALGORITHMS: Str('RS256,PS256,ES256,EdDSA', 'Algorithms accepted from the external provider'),
  CREDENTIAL_RECHECK_MS: Int(
    5000,
    0,
    300_000,
    'How long a verified credential is trusted before its account, session or API token is re-checked in the database',
  ),
  EVENT_RETENTION_HOURS: Int(
    168,
    1,
    87_600,
    'Hours events are kept for SSE replay (pending deliveries keep theirs)',
  ),
  EVENTS_HEARTBEAT_SECONDS: Int(15, 1, 3600, 'Seconds between comment heartbeats on idle event streams'),
  EVENTS_POLL_INTERVAL_MS: Int(
    2000,
    50,
    60_000,
    'Safety-net poll of the events table when no wake-up arrives',
  ),
  WEBHOOK_ALLOW_PRIVATE: Bool(
    false,
    'Allow webhook URLs that resolve to private/loopback addresses (dev, tests)',
  ),
  WEBHOOK_RETRY_SCHEDULE: Type.String({
    default: '5,300,1800,7200,18000,36000,50400,72000,86400',
    pattern: '^\\s*\\d+[smh]?\\s*(,\\s*\\d+[smh]?\\s*)*$',
    description: 'Seconds between webhook attempts, comma-separated (units s/m/h allowed: 5s,5m,2h)',
  }),
  WEBHOOK_TIMEOUT_MS: Int(10_000, 100, 60_000, 'A webhook attempt succeeds only with a 2xx within this time'),
  WEBHOOK_LEASE_SECONDS: Int(60, 1, 3600, 'How long a claimed delivery stays with one instance'),
  WEBHOOK_CONCURRENCY: Int(8, 1, 256, 'Webhook attempts in flight per instance'),
  WEBHOOK_POLL_INTERVAL_MS: Int(1000, 50, 60_000, 'How often the dispatcher looks for due deliveries'),
  WEBHOOK_DISABLE_AFTER_FAILURES: Int(
    100,
    1,
    100_000,
    'Consecutive failed attempts after which an endpoint is disabled',
  ),
  REDIS_KEY_PREFIX: Str(
    'tt:',
    'Prefix of every Redis key and channel (several deployments can share one Redis)',
  ),
})

export type Config = Static<typeof ConfigSchema>

export class ConfigError extends Error {
  readonly problems: string[]
  constructor(problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

const KEYS = Object.keys(ConfigSchema.properties) as (keyof Config)[]
const INTEGER_KEYS = KEYS.filter(
  (key) => (ConfigSchema.properties[key] as { type?: string }).type === 'integer',
)

/**
 * Builds a Config from an environment map. `NAME_FILE` reads NAME from a file;
 * every problem is collected so one message names every bad variable.
 */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  const problems: string[] = []
  const raw: Record<string, unknown> = {}
  for (const key of KEYS) {
    const fileVar = `${key}_FILE`
    const direct = env[key]
    const file = env[fileVar]
    if (file !== undefined && file !== '') {
      if (direct !== undefined && direct !== '') {
        problems.push(`${key}: set either ${key} or ${fileVar}, not both`)
        continue
      }
      try {
        raw[key] = readFileSync(file, 'utf8').trim()
      } catch {
        problems.push(`${fileVar}: cannot read the file it names`)
      }
      continue
    }
    if (direct !== undefined && direct !== '') raw[key] = direct
  }
  // Value.Convert reads "1e3", "0x10" and "900.5" as numbers and truncates them (PORT=1e3 would
  // listen on port 1): an integer variable is plain digits or it is refused.
  for (const key of INTEGER_KEYS) {
    const value = raw[key]
    if (typeof value === 'string' && !/^-?[0-9]+$/.test(value)) {
      problems.push(`${key}: must be a whole number written in digits`)
      delete raw[key]
    }
  }
  const converted = Value.Convert(ConfigSchema, Value.Default(ConfigSchema, raw))
  for (const error of Value.Errors(ConfigSchema, converted)) {
    const name = error.path.replace(/^\//, '')
    // Never echo the value: it may be a secret. A union of literals names its allowed values.
    const choices = (error.schema as { anyOf?: { const?: unknown }[] }).anyOf?.map((s) => s.const)
    const message = choices?.every((c) => typeof c === 'string')
      ? `must be one of ${choices.join(', ')}`
      : error.message
    problems.push(`${name}: ${message}`)
  }
  const pem = (converted as Partial<Config>).JWT_PRIVATE_KEY
  if (typeof pem === 'string' && !isEd25519PrivateKey(pem))
    problems.push('JWT_PRIVATE_KEY: must be a PKCS#8 PEM Ed25519 private key')
  problems.push(...externalAuthProblems(converted as Partial<Config>))
  if (problems.length > 0) throw new ConfigError([...new Set(problems)])
  return converted as Config
}

/** The external identity provider's variables, which hold together or not at all. */
function externalAuthProblems(config: Partial<Config>): string[] {
  const { AUTH_JWKS_URL: jwksUrl, AUTH_ISSUER: issuer, AUTH_AUDIENCE: audience } = config
  if (!jwksUrl && !issuer && !audience) return []
  const problems: string[] = []
  if (!jwksUrl || !issuer || !audience)
    problems.push('AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE: must be set together')
  if (issuer !== undefined && issuer === config.JWT_ISSUER)
    problems.push('AUTH_ISSUER: must differ from JWT_ISSUER')
  const algorithms = (config.AUTH_ALGORITHMS ?? '')
    .split(',')
    .map((a) => a.trim())
    .filter(Boolean)
  if (algorithms.length === 0 || algorithms.some((a) => a === 'none' || a.startsWith('HS')))
    problems.push('AUTH_ALGORITHMS: must list asymmetric algorithms only')
  return problems
}

/** Checked with the other variables so a bad key is named in the one configuration message. */
function isEd25519PrivateKey(pem: string): boolean {
  try {
    return createPrivateKey({ key: pem, format: 'pem' }).asymmetricKeyType === 'ed25519'
  } catch {
    return false
  }
}

/** Loads `.env` from the working directory when present (values already set win). */
export function loadDotEnv(path = '.env'): void {
  if (existsSync(path)) process.loadEnvFile(path)
}

/** A config for tests and tools: defaults plus overrides, validated the same way. */
export function configFrom(overrides: Partial<Record<keyof Config, string | number | boolean>>): Config {
  const env: Record<string, string> = {}
  for (const [k, v] of Object.entries(overrides)) if (v !== undefined) env[k] = String(v)
  return loadConfig(env)
}

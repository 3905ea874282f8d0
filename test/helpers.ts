// Test helpers: build the app on a fresh database, register and log in users,
// and builders for request bodies. Every test creates the rows it reads.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import pg from 'pg'
import { type AppOverrides, buildApp } from '../src/app.ts'
import { type Config, configFrom } from '../src/config.ts'

export type ConfigOverrides = Partial<Record<keyof Config, string | number | boolean>>

export type EngineName = 'sqlite' | 'postgres'

/** The engines this run tests: SQLite always, PostgreSQL when TEST_DATABASE_URL is set. */
export function testEngines(): EngineName[] {
  return process.env.TEST_DATABASE_URL ? ['sqlite', 'postgres'] : ['sqlite']
}

/**
 * A PostgreSQL schema of its own for one test app, so runs and tests never share rows.
 * Returns the DATABASE_URL that points at it (search_path) and a function that drops it.
 */
export async function freshPostgresSchema(): Promise<{ url: string; drop(): Promise<void> }> {
  const base = process.env.TEST_DATABASE_URL
  if (!base) throw new Error('TEST_DATABASE_URL is not set')
  counter += 1
  const schema = `t_${process.pid}_${Date.now().toString(36)}_${counter}`
  const admin = new pg.Client({ connectionString: base })
  await admin.connect()
  await admin.query(`CREATE SCHEMA ${schema}`)
  await admin.end()
  const url = new URL(base)
  url.searchParams.set('options', `-c search_path=${schema}`)
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base })
      await c.connect()
      await c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await c.end()
    },
  }
}

export interface TestApp {
  engine: EngineName
  app: FastifyInstance
  config: Config
  dataDir: string
  close(): Promise<void>
}

let counter = 0

/** A fresh app on its own SQLite file in a temporary directory. */
export async function buildTestApp(
  overrides: ConfigOverrides = {},
  appOverrides: AppOverrides = {},
  engine: EngineName = 'sqlite',
): Promise<TestApp> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tt-test-'))
  const pgSchema = engine === 'postgres' ? await freshPostgresSchema() : undefined
  const config = configFrom({
    ...(pgSchema ? { DATABASE_URL: pgSchema.url } : {}),
    LOG_LEVEL: 'silent',
    DATA_DIR: dataDir,
    RATE_LIMIT_PER_MINUTE: 100_000,
    RATE_LIMIT_ANON_PER_MINUTE: 100_000,
    RATE_LIMIT_AUTH_PER_MINUTE: 100_000,
    ...overrides,
  })
  let app: FastifyInstance
  try {
    app = await buildApp(config, { backgroundJobs: false, ...appOverrides })
  } catch (error) {
    // A failed start must not leave its schema or directory behind.
    await pgSchema?.drop().catch(() => {})
    rmSync(dataDir, { recursive: true, force: true })
    throw error
  }
  return {
    engine,
    app,
    config,
    dataDir,
    async close() {
      await app.close()
      await pgSchema?.drop()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

export function uniqueEmail(prefix = 'user'): string {
  counter += 1
  return `${prefix}-${process.pid}-${Date.now()}-${counter}@example.com`
}

export const PASSWORD = 'correct horse battery staple'

export interface TestUser {
  id: string
  email: string
  token: string
  refreshToken: string
  auth: { authorization: string }
}

export async function registerAndLogin(
  app: FastifyInstance,
  options: { email?: string; name?: string } = {},
): Promise<TestUser> {
  const email = options.email ?? uniqueEmail()
  const reg = await app.inject({
    method: 'POST',
    url: '/v1/auth/register',
    payload: { email, password: PASSWORD, name: options.name ?? 'Test User' },
  })
  if (reg.statusCode !== 201) throw new Error(`register failed: ${reg.statusCode} ${reg.body}`)
  const login = await app.inject({
    method: 'POST',
    url: '/v1/auth/login',
    payload: { email, password: PASSWORD },
  })
  if (login.statusCode !== 200) throw new Error(`login failed: ${login.statusCode} ${login.body}`)
  const { accessToken, refreshToken } = login.json() as { accessToken: string; refreshToken: string }
  return {
    id: (reg.json() as { id: string }).id,
    email,
    token: accessToken,
    refreshToken,
    auth: { authorization: `Bearer ${accessToken}` },
  }
}

export function aTask(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  counter += 1
  return { title: `Task ${counter}`, description: 'Something to do', tags: ['test'], ...overrides }
}

export async function createTask(
  app: FastifyInstance,
  user: TestUser,
  body: Record<string, unknown> = aTask(),
) {
  const res = await app.inject({ method: 'POST', url: '/v1/tasks', headers: user.auth, payload: body })
  if (res.statusCode !== 201) throw new Error(`create failed: ${res.statusCode} ${res.body}`)
  return res.json() as Record<string, unknown> & { id: string; version: number }
}

/** A log stream for buildTestApp's `logStream`: keeps every JSON line the app writes. */
export class LogCapture extends Writable {
  readonly lines: string[] = []
  override _write(chunk: Buffer, _encoding: string, done: () => void): void {
    this.lines.push(...chunk.toString().split('\n').filter(Boolean))
    done()
  }
  entries(): ({ level: number; msg: string } & Record<string, unknown>)[] {
    return this.lines.map((l) => JSON.parse(l))
  }
}

/** PATCH /v1/tasks/:id as `user`, without If-Match; the response, whatever its status. */
export function patchTask(
  app: FastifyInstance,
  user: TestUser,
  id: string,
  payload: Record<string, unknown>,
) {
  return app.inject({ method: 'PATCH', url: `/v1/tasks/${id}`, headers: user.auth, payload })
}

export function errorOf(res: LightMyRequestResponse): {
  code: string
  message: string
  details?: { field: string; message: string }[]
  requestId: string
} {
  return (
    res.json() as {
      error: {
        code: string
        message: string
        details?: { field: string; message: string }[]
        requestId: string
      }
    }
  ).error
}

/**
 * Every query sent on a pg client that is still busy with another, whether pg would queue it
 * behind one that runs or behind one that waits. pg queues such a query, deprecates doing so and
 * drops it in pg@9, but warns only when one already waits (and once per process), so the client
 * is watched instead: `pg.Client.prototype.query` is wrapped while the watch lasts, and reads pg
 * 8's own state (`_getActiveQuery()`, `_queryQueue`). A pg without that state fails the watch
 * rather than passing it. `queued()` lists the SQL of each such query.
 */
export function watchQueuedQueries(): { queued(): string[]; stop(): void } {
  const seen: string[] = []
  const proto = pg.Client.prototype as unknown as Record<string, unknown>
  const original = proto.query as (this: unknown, ...args: unknown[]) => unknown
  proto.query = function watched(
    this: { _getActiveQuery?: () => unknown; _queryQueue?: unknown[] },
    ...args: unknown[]
  ) {
    if (typeof this._getActiveQuery !== 'function' || !Array.isArray(this._queryQueue))
      seen.push('pg client state unknown: update watchQueuedQueries for this pg')
    else if (this._getActiveQuery() || this._queryQueue.length > 0) {
      const config = args[0] as string | { text?: string }
      seen.push(typeof config === 'string' ? config : String(config?.text))
    }
    return original.apply(this, args)
  }
  return {
    queued: () => [...seen],
    stop: () => {
      proto.query = original
    },
  }
}

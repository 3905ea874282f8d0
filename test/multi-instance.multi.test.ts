// Many instances, end to end: two real server processes (node src/main.ts) on
// their own ports over one PostgreSQL schema and one Redis (keys under a prefix
// of this run). Both start at once and migrate once; a rate limit is shared;
// an idempotent POST retried on the other instance is replayed; a token from
// one verifies on the other (no key is configured: the signing keys live in the
// shared database, created by whichever instance starts first); the purge deletes each due task exactly once.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import pg from 'pg'
import { LOG_FLUSH_MS } from '../src/logging.ts'
import { freshPostgresSchema, PASSWORD, uniqueEmail } from './helpers.ts'

const USER_LIMIT = 20

interface Instance {
  process: ChildProcess
  base: string
  logs: Record<string, unknown>[]
  dataDir: string
}

const children = new Set<ChildProcess>()
process.on('exit', () => {
  for (const child of children) child.kill('SIGKILL')
})

function startInstance(env: Record<string, string>): Promise<Instance> {
  const dataDir = mkdtempSync(join(tmpdir(), 'tt-multi-'))
  const child = spawn(process.execPath, ['src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', ...env, DATA_DIR: dataDir, PORT: '0' },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.add(child)
  const logs: Record<string, unknown>[] = []
  let stderr = ''
  child.stderr?.on('data', (chunk) => {
    stderr += String(chunk)
  })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`instance did not start: ${stderr}`)), 30_000)
    child.once('exit', (code) => reject(new Error(`instance exited with ${code}: ${stderr}`)))
    createInterface({ input: child.stdout! }).on('line', (line) => {
      let entry: Record<string, unknown>
      try {
        entry = JSON.parse(line)
      } catch {
        return
      }
      logs.push(entry)
      const match = /listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(String(entry.msg))
      if (match) {
        clearTimeout(timer)
        resolve({ process: child, base: match[1]!, logs, dataDir })
      }
    })
  })
}

async function stopInstance(instance: Instance): Promise<void> {
  const { process: child } = instance
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000)
    await exited
    clearTimeout(timer)
  }
  children.delete(child)
  rmSync(instance.dataDir, { recursive: true, force: true })
}

async function call(
  base: string,
  path: string,
  init: { method?: string; token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  const res = await fetch(base + path, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(init.token ? { authorization: `Bearer ${init.token}` } : {}),
      ...init.headers,
    },
    body: init.body !== undefined ? JSON.stringify(init.body) : undefined,
  })
  const text = await res.text()
  return {
    status: res.status,
    headers: res.headers,
    body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
  }
}

describe('two instances over one PostgreSQL and one Redis', () => {
  let schema: Awaited<ReturnType<typeof freshPostgresSchema>>
  let a: Instance
  let b: Instance
  const started: Instance[] = []

  before(async () => {
    schema = await freshPostgresSchema()
    const env = {
      DATABASE_URL: schema.url,
      REDIS_URL: process.env.TEST_REDIS_URL ?? '',
      REDIS_KEY_PREFIX: `tt-test-multi-${process.pid}-${Date.now()}:`,
      LOG_LEVEL: 'info',
      RATE_LIMIT_PER_MINUTE: String(USER_LIMIT),
      RATE_LIMIT_AUTH_PER_MINUTE: '1000',
      RATE_LIMIT_ANON_PER_MINUTE: '1000',
      TASK_RETENTION_DAYS: '0',
      PURGE_INTERVAL_SECONDS: '1',
    }
    // Both at once, on a schema nobody has migrated yet.
    const results = await Promise.allSettled([startInstance(env), startInstance(env)])
    for (const r of results) if (r.status === 'fulfilled') started.push(r.value)
    for (const r of results) if (r.status === 'rejected') throw r.reason
    ;[a, b] = started as [Instance, Instance]
  })

  after(async () => {
    await Promise.all(started.map(stopInstance))
    await schema?.drop()
  })

  const login = async (on: Instance) => {
    const email = uniqueEmail('multi')
    const reg = await call(on.base, '/v1/auth/register', {
      method: 'POST',
      body: { email, password: PASSWORD, name: 'Multi' },
    })
    assert.equal(reg.status, 201, JSON.stringify(reg.body))
    const res = await call(on.base, '/v1/auth/login', { method: 'POST', body: { email, password: PASSWORD } })
    assert.equal(res.status, 200)
    return { id: String(reg.body.id), token: String(res.body.accessToken) }
  }

  it('ran the migrations once although both instances started together', async () => {
    const client = new pg.Client({ connectionString: schema.url })
    await client.connect()
    try {
      const { rows } = await client.query<{ name: string; n: string }>(
        'SELECT name, count(*) AS n FROM kysely_migration GROUP BY name ORDER BY name',
      )
      assert.ok(rows.length >= 2)
      for (const row of rows) assert.equal(Number(row.n), 1, row.name)
    } finally {
      await client.end()
    }
    for (const instance of [a, b]) assert.equal((await call(instance.base, '/ready')).status, 200)
  })

  it('verifies on one instance a token issued by the other', async () => {
    const user = await login(a)
    const me = await call(b.base, '/v1/me', { token: user.token })
    assert.equal(me.status, 200)
    assert.equal(me.body.id, user.id)
  })

  it('shares the rate limit: requests split across both reach 429 at the combined limit', async () => {
    const user = await login(a)
    const statuses: number[] = []
    for (let i = 0; i < USER_LIMIT + 2; i++)
      statuses.push((await call(i % 2 === 0 ? a.base : b.base, '/v1/tasks', { token: user.token })).status)
    assert.deepEqual(statuses.slice(0, USER_LIMIT), Array(USER_LIMIT).fill(200))
    assert.deepEqual(statuses.slice(USER_LIMIT), [429, 429])
  })

  it('replays an idempotent POST retried on the other instance instead of creating it twice', async () => {
    const user = await login(a)
    const request = {
      method: 'POST',
      token: user.token,
      body: { title: 'exactly once' },
      headers: { 'idempotency-key': `multi-${Date.now()}` },
    }
    const first = await call(a.base, '/v1/tasks', request)
    assert.equal(first.status, 201)
    const retry = await call(b.base, '/v1/tasks', request)
    assert.equal(retry.status, 201)
    assert.equal(retry.headers.get('idempotency-replayed'), 'true')
    assert.equal(retry.body.id, first.body.id)
    const list = await call(b.base, '/v1/tasks?ownerId=me', { token: user.token })
    assert.equal((list.body.page as { total: number }).total, 1)
  })

  it('keeps page.total exact under concurrent writes through both instances', async () => {
    const user = await login(a)
    const created = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        call(i % 2 === 0 ? a.base : b.base, '/v1/tasks', {
          method: 'POST',
          token: user.token,
          body: { title: `concurrent ${i}`, status: i % 3 === 0 ? 'done' : 'todo', tags: ['load'] },
        }),
      ),
    )
    assert.deepEqual(
      created.map((r) => r.status),
      Array(12).fill(201),
    )
    const mine = await call(b.base, '/v1/tasks?ownerId=me&status=done&tag=load&limit=100', {
      token: user.token,
    })
    assert.equal((mine.body.page as { total: number }).total, 4)
    assert.equal((mine.body.items as unknown[]).length, 4)
  })

  it('purges each due task once although both instances run the purge job', async () => {
    const user = await login(b)
    const ids: string[] = []
    for (let i = 0; i < 6; i++) {
      const on = i % 2 === 0 ? a : b
      const created = await call(on.base, '/v1/tasks', {
        method: 'POST',
        token: user.token,
        body: { title: `purge ${i}` },
      })
      assert.equal(created.status, 201)
      ids.push(String(created.body.id))
    }
    const purgedBefore = [a, b].map((i) => purgedTasks(i))
    for (const id of ids)
      assert.equal(
        (await call(a.base, `/v1/tasks/${id}`, { method: 'DELETE', token: user.token })).status,
        204,
      )

    const client = new pg.Client({ connectionString: schema.url })
    await client.connect()
    try {
      let left = ids.length
      for (let i = 0; i < 100 && left > 0; i++) {
        await sleep(100)
        left = Number(
          (await client.query('SELECT count(*) AS n FROM tasks WHERE id = ANY($1)', [ids])).rows[0].n,
        )
      }
      assert.equal(left, 0, 'the purge did not delete the due tasks')
    } finally {
      await client.end()
    }
    // Every deletion is reported by exactly one instance: together they purged exactly 6. The
    // instances write their log lines at most LOG_FLUSH_MS after logging them (src/logging.ts),
    // so wait for the reports to arrive, then one flush interval more for any double report.
    const reported = () => [a, b].reduce((sum, i, n) => sum + purgedTasks(i) - (purgedBefore[n] ?? 0), 0)
    for (let i = 0; i < 50 && reported() < ids.length; i++) await sleep(100)
    await sleep(LOG_FLUSH_MS + 100)
    const purged = [a, b].map((i, n) => purgedTasks(i) - (purgedBefore[n] ?? 0))
    assert.equal(
      purged.reduce((x, y) => x + y, 0),
      ids.length,
    )
    const deleted = await call(b.base, '/v1/tasks?deleted=only', { token: user.token })
    assert.equal((deleted.body.page as { total: number }).total, 0)
  })
})

function purgedTasks(instance: Instance): number {
  return instance.logs
    .filter((l) => l.job === 'purge' && typeof l.tasks === 'number')
    .reduce((sum, l) => sum + (l.tasks as number), 0)
}

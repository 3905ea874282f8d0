// Parts of the bench harness a user of it relies on without seeing: the bench user's token
// outlives long runs, a PATCH run survives failed PATCHes, a PostgreSQL URL the bench
// cannot point at a schema of its own is refused before anything is created, and the reaper
// undoes what a killed run left (real processes, directories and, with TEST_DATABASE_URL, a
// real schema). Real HTTP: node:http servers on local sockets stand in for the service (the
// service's own behaviour under the bench is in bench-run.test.ts).
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { drive } from '../bench/load.ts'
import { isLive, type Leftover, type ReaperMessage, startTimeOf } from '../bench/processes.ts'
import { type Fixtures, NO_VERSION, serviceScenarios } from '../bench/scenarios.ts'
import { benchSchemaFor, createBenchSchema } from '../bench/schema.ts'
import { benchSession, topUpPatchPool } from '../bench/session.ts'

async function listen(handler: Parameters<typeof createServer>[1]): Promise<{ server: Server; url: string }> {
  const server = createServer(handler)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` }
}

describe('the bench user session', () => {
  let logins = 0
  let server: Server
  let url: string
  before(async () => {
    ;({ server, url } = await listen((req, res) => {
      if (req.method === 'POST' && req.url === '/v1/auth/login') {
        logins++
        res.writeHead(200, { 'content-type': 'application/json' })
        // A token that lives 200 s, as a service configured with ACCESS_TOKEN_TTL_SECONDS=200 gives.
        res.end(JSON.stringify({ accessToken: `token-${logins}`, tokenType: 'Bearer', expiresIn: 200 }))
      } else {
        res.writeHead(404)
        res.end()
      }
    }))
  })
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('logs in again only when the token would expire before the run it is for ends', async () => {
    const tokenFor = benchSession(url, 'bench@example.com')
    assert.equal(await tokenFor(10), 'token-1')
    assert.equal(await tokenFor(100), 'token-1', 'a 100 s run ends well before the token expires')
    assert.equal(await tokenFor(150), 'token-2', 'a 150 s run (and its margin) would outlive it')
    assert.equal(logins, 2)
  })
})

describe('the PATCH scenario', () => {
  let server: Server
  let url: string
  const ifMatch = new Map<string, number>()
  before(async () => {
    // Every PATCH fails as a lost race would: 412, no ETag.
    ;({ server, url } = await listen((req, res) => {
      const seen = String(req.headers['if-match'])
      ifMatch.set(seen, (ifMatch.get(seen) ?? 0) + 1)
      req.resume()
      req.on('end', () => {
        res.writeHead(req.method === 'PATCH' ? 412 : 405, { 'content-type': 'application/json' })
        res.end('{}')
      })
    }))
  })
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('goes on sending PATCHes, counted as errors, once failures have emptied the pool', async () => {
    const fixtures: Fixtures = {
      ids: ['t-0'],
      statuses: ['todo'],
      cursors: ['c'],
      words: ['w'],
      patchPool: [
        { id: 't-1', etag: '"v3"' },
        { id: 't-2', etag: '"v5"' },
      ],
      patchPooled: new Set(['t-1', 't-2']),
      patchSpareId: 't-1',
    }
    const run = await drive({
      url,
      pid: process.pid,
      connections: 1,
      duration: 1,
      requests: () => serviceScenarios.patch?.kinds(fixtures) ?? [],
    })
    assert.ok(run.requests > 2, `the run went on past the pool (${run.requests} answered)`)
    assert.equal(run.statusCodes['412'], run.requests, JSON.stringify(run.statusCodes))
    assert.equal(run.errors, run.requests)
    assert.deepEqual([ifMatch.get('"v3"'), ifMatch.get('"v5"')], [1, 1], 'each pooled task was tried once')
    assert.ok((ifMatch.get(NO_VERSION) ?? 0) >= run.requests - 2)
    assert.equal(fixtures.patchPool.length, 0, 'a failed PATCH does not put its task back')
  })
})

describe('the PATCH pool before a load', () => {
  const requested: string[] = []
  let created = 0
  let server: Server
  let url: string
  before(async () => {
    ;({ server, url } = await listen((req, res) => {
      requested.push(`${req.method} ${req.url}`)
      req.resume()
      if (req.method === 'POST' && req.url === '/v1/tasks') {
        created++
        res.writeHead(201, { 'content-type': 'application/json', etag: '"v1"' })
        res.end(JSON.stringify({ id: `new-${created}` }))
      } else {
        res.writeHead(200, { 'content-type': 'application/json', etag: '"v7"' })
        res.end('{}')
      }
    }))
  })
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))

  it('keeps what it holds, never takes back a task that left it, and tops up with new own tasks', async () => {
    // 'kept' came back from its last PATCH; 'lost' had a PATCH in flight when the last load stopped.
    const fixtures: Fixtures = {
      ids: [],
      statuses: [],
      cursors: [],
      words: [],
      patchPool: [{ id: 'kept', etag: '"v3"' }],
      patchPooled: new Set(['kept', 'lost']),
    }
    const own = ['kept', 'lost', 'unused']
    await topUpPatchPool(url, 'token', own, fixtures, 3)
    assert.deepEqual(fixtures.patchPool, [
      { id: 'kept', etag: '"v3"' },
      { id: 'unused', etag: '"v7"' },
      { id: 'new-1', etag: '"v7"' },
    ])
    // 'lost' was not read again: its PATCH may still commit after such a read.
    assert.deepEqual(requested, ['GET /v1/tasks/unused', 'POST /v1/tasks', 'GET /v1/tasks/new-1'])
    assert.deepEqual(own, ['kept', 'lost', 'unused', 'new-1'])
    assert.equal(fixtures.patchSpareId, 'kept')
  })
})

describe('the throwaway PostgreSQL schema', () => {
  it('is pointed at through the URL, and a DATABASE_URL that is not a URL is refused first', () => {
    const { schema, url } = benchSchemaFor('postgres://postgres@127.0.0.1:5432/test')
    assert.match(schema, /^bench_\d+_[a-z0-9]+$/)
    assert.equal(new URL(url).searchParams.get('options'), `-c search_path=${schema}`)
    // pg reads this (a Unix socket); the bench cannot add its schema to it, so it stops here.
    assert.throws(
      () => benchSchemaFor('postgres://postgres@/test?host=/var/run/postgresql'),
      /DATABASE_URL must be a URL/,
    )
  })
})

describe('the reaper of a killed run', () => {
  const ROOT = join(import.meta.dirname, '..')
  let dir = ''
  const sleepers: ChildProcess[] = []
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'tt-reaper-test-'))
  })
  after(() => {
    for (const child of sleepers) child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  })

  type Sleeper = { child: ChildProcess; pid: number; started: string | undefined }
  /** A process that runs until stopped, once it is ready (a stubborn one ignores SIGTERM by then). */
  async function sleeper(stubborn = false): Promise<Sleeper> {
    const code = `${stubborn ? "process.on('SIGTERM', () => {});" : ''} console.log('ready'); setInterval(() => {}, 1000)`
    const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'ignore'] })
    sleepers.push(child)
    await new Promise((resolve) => child.stdout?.once('data', resolve))
    const pid = child.pid as number
    return { child, pid, started: startTimeOf(pid) }
  }

  /** Starts the reaper, sends it `messages` and closes its pipe, as a run's end does; answers what it said. */
  async function reap(messages: (ReaperMessage | string)[]): Promise<{ code: number | null; said: string }> {
    const reaper = spawn(process.execPath, [join(ROOT, 'bench/reaper.ts')], {
      stdio: ['pipe', 'ignore', 'pipe'],
    })
    let said = ''
    reaper.stderr?.on('data', (chunk) => {
      said += String(chunk)
    })
    const code = new Promise<number | null>((resolve) => reaper.once('close', (c) => resolve(c)))
    for (const m of messages) reaper.stdin?.write(`${typeof m === 'string' ? m : JSON.stringify(m)}\n`)
    reaper.stdin?.end()
    return { code: await code, said }
  }

  it('says nothing and exits when the run had undone everything itself', async () => {
    const kept = join(dir, 'kept')
    mkdirSync(kept)
    const { code, said } = await reap([
      { add: 1, leftover: { kind: 'dir', name: 'temp dir', path: kept } },
      { done: 1 },
    ])
    assert.equal(code, 0)
    assert.equal(said, '')
    assert.ok(existsSync(kept), "a directory the run had undone itself is not the reaper's")
  })

  it("undoes what is still registered, newest first, and leaves alone what is not the run's", async () => {
    const left = join(dir, 'left')
    const kept = join(dir, 'kept-too')
    mkdirSync(left)
    mkdirSync(kept)
    const [polite, stubborn, stranger] = await Promise.all([sleeper(), sleeper(true), sleeper()])
    const started = (name: string, s: Sleeper, graceMs = 5_000): Leftover => ({
      kind: 'process',
      name,
      pid: s.pid,
      started: s.started,
      graceMs,
    })
    const exits = [polite, stubborn].map(
      (s) =>
        new Promise<NodeJS.Signals | null>((resolve) =>
          s.child.once('exit', (_c, signal) => resolve(signal)),
        ),
    )
    const { code, said } = await reap([
      { add: 1, leftover: { kind: 'dir', name: 'temp dir', path: left } },
      { add: 2, leftover: { kind: 'dir', name: 'temp dir', path: kept } },
      { done: 2 },
      'not a message',
      { add: 3, leftover: started('floor', polite) },
      { add: 4, leftover: started('service', stubborn, 300) },
      // Its pid, but another start time: the pid of a process that ended, given to another since.
      { add: 5, leftover: started('service (warm-up)', { ...stranger, started: `${stranger.started}0` }) },
    ])
    assert.equal(code, 0)
    assert.deepEqual(
      await Promise.all(exits),
      ['SIGTERM', 'SIGKILL'],
      'SIGTERM first; SIGKILL once its grace is up',
    )
    assert.equal(existsSync(left), false)
    assert.ok(existsSync(kept))
    assert.ok(isLive(stranger.pid, stranger.started), 'a process the run did not start is left alone')
    assert.deepEqual(said.trim().split('\n'), [
      'bench (reaper): the run ended without undoing what it started (killed?); undoing it',
      `bench (reaper): stopped service (pid ${stubborn.pid})`,
      `bench (reaper): stopped floor (pid ${polite.pid})`,
      `bench (reaper): removed ${left}`,
    ])
  })

  it('drops a throwaway schema the run left', { skip: !process.env.TEST_DATABASE_URL }, async () => {
    const baseUrl = process.env.TEST_DATABASE_URL as string
    const { schema } = benchSchemaFor(baseUrl)
    await createBenchSchema(baseUrl, schema)
    try {
      const { code, said } = await reap([
        { add: 1, leftover: { kind: 'schema', name: schema, baseUrl, schema } },
      ])
      assert.equal(code, 0)
      assert.match(said, new RegExp(`dropped schema ${schema}`))
    } finally {
      const admin = new pg.Client({ connectionString: baseUrl })
      await admin.connect()
      const { rowCount } = await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
      await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
      await admin.end()
      assert.equal(rowCount, 0, `schema ${schema} is still there`)
    }
  })
})

// End to end: the real server process (src/start.js, npm start's entry) on a free
// port, over a real socket. A full flow, data surviving a restart, SIGTERM with
// requests in flight, and a refused start on invalid configuration.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, before, describe, it } from 'node:test'
import { PASSWORD, uniqueEmail } from './helpers.ts'

const MAIN = resolve(import.meta.dirname, '../src/start.js')

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok))
  const address = server.address()
  await new Promise<void>((ok) => server.close(() => ok()))
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

interface Server {
  child: ChildProcess
  base: string
  stderr: () => string
  exited: Promise<number | null>
}

function run(env: Record<string, string>, cwd: string): Server & { stdout: () => string } {
  // Only what the test sets: no inherited configuration, no .env from the repository (cwd is a temp dir).
  const child = spawn(process.execPath, [MAIN], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
  })
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString()
  })
  const exited = new Promise<number | null>((ok) => child.once('exit', (code) => ok(code)))
  return { child, base: `http://${env.HOST}:${env.PORT}`, stderr: () => err, stdout: () => out, exited }
}

async function start(dataDir: string): Promise<Server> {
  const port = await freePort()
  const server = run(
    {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      LOG_LEVEL: 'warn',
      RATE_LIMIT_AUTH_PER_MINUTE: '1000',
      SHUTDOWN_TIMEOUT_MS: '10000',
    },
    dataDir,
  )
  const deadline = Date.now() + 15_000
  for (;;) {
    try {
      const res = await fetch(`${server.base}/ready`)
      if (res.status === 200) return server
    } catch {
      // not listening yet
    }
    if (server.child.exitCode !== null) throw new Error(`server exited early: ${server.stderr()}`)
    if (Date.now() > deadline) throw new Error(`server did not become ready: ${server.stderr()}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

async function stop(server: Server): Promise<number | null> {
  server.child.kill('SIGTERM')
  return server.exited
}

async function call(
  base: string,
  method: string,
  path: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
): Promise<{ status: number; headers: Headers; body: Record<string, unknown> & { [k: string]: unknown } }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  })
  const text = await res.text()
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : {} }
}

async function account(base: string): Promise<{ email: string; token: string }> {
  const email = uniqueEmail('e2e')
  const reg = await call(base, 'POST', '/v1/auth/register', {
    body: { email, password: PASSWORD, name: 'E2E' },
  })
  assert.equal(reg.status, 201)
  const login = await call(base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } })
  assert.equal(login.status, 200)
  return { email, token: login.body.accessToken as string }
}

describe('end to end: the real server process', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'tt-e2e-'))
  let server: Server
  before(async () => {
    server = await start(dataDir)
  })
  after(async () => {
    // before() may have failed to start it.
    const running = server as Server | undefined
    if (running && running.child.exitCode === null) await stop(running)
    rmSync(dataDir, { recursive: true, force: true })
  })

  let token = ''
  let email = ''
  let keptId = ''

  it('serves a full flow: register, login, create, list, conditional PATCH, delete, restore', async () => {
    ;({ token, email } = await account(server.base))
    const me = await call(server.base, 'GET', '/v1/me', { token })
    assert.equal(me.status, 200)
    assert.equal(me.body.email, email)

    const created = await call(server.base, 'POST', '/v1/tasks', {
      token,
      body: { title: 'Ship it', priority: 'high', tags: ['release'] },
    })
    assert.equal(created.status, 201)
    assert.equal(created.headers.get('location'), `/v1/tasks/${created.body.id}`)
    assert.ok(created.headers.get('x-request-id'))
    keptId = created.body.id as string
    await call(server.base, 'POST', '/v1/tasks', { token, body: { title: 'Other', priority: 'low' } })

    const list = await call(server.base, 'GET', '/v1/tasks?ownerId=me&priority=high&tag=release', { token })
    assert.equal(list.status, 200)
    assert.deepEqual(
      (list.body.items as { id: string }[]).map((i) => i.id),
      [keptId],
    )

    const etag = created.headers.get('etag') as string
    const stale = await call(server.base, 'PATCH', `/v1/tasks/${keptId}`, {
      token,
      body: { status: 'doing' },
      headers: { 'if-match': '"v0"' },
    })
    assert.equal(stale.status, 412)
    const patched = await call(server.base, 'PATCH', `/v1/tasks/${keptId}`, {
      token,
      body: { status: 'doing' },
      headers: { 'if-match': etag },
    })
    assert.equal(patched.status, 200)
    assert.equal(patched.body.version, 2)
    const notModified = await fetch(`${server.base}/v1/tasks/${keptId}`, {
      headers: { authorization: `Bearer ${token}`, 'if-none-match': patched.headers.get('etag') as string },
    })
    assert.equal(notModified.status, 304)

    assert.equal((await call(server.base, 'DELETE', `/v1/tasks/${keptId}`, { token })).status, 204)
    assert.equal((await call(server.base, 'GET', `/v1/tasks/${keptId}`, { token })).status, 404)
    const restored = await call(server.base, 'POST', `/v1/tasks/${keptId}/restore`, { token })
    assert.equal(restored.status, 200)
    assert.equal(restored.body.deletedAt, null)
  })

  it('keeps data and tokens across a restart of the process', async () => {
    assert.ok(keptId, 'the flow test ran first')
    assert.equal(await stop(server), 0)
    server = await start(dataDir)
    const task = await call(server.base, 'GET', `/v1/tasks/${keptId}`, { token })
    assert.equal(task.status, 200, 'the access token still verifies: the signing key was kept in DATA_DIR')
    assert.equal(task.body.status, 'doing')
    assert.equal(task.body.version, 4)
    const login = await call(server.base, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } })
    assert.equal(login.status, 200)
  })

  it('finishes every in-flight request on SIGTERM and exits 0', async () => {
    // Registrations hash a password (argon2id), so twenty of them keep the server busy for a while.
    let finished = 0
    const inFlight = Array.from({ length: 20 }, () =>
      call(server.base, 'POST', '/v1/auth/register', {
        body: { email: uniqueEmail('drain'), password: PASSWORD, name: 'Drain' },
      }).then((res) => {
        finished++
        return res
      }),
    )
    await new Promise((r) => setTimeout(r, 60))
    const finishedBeforeSignal = finished
    server.child.kill('SIGTERM')
    const results = await Promise.all(inFlight)
    assert.deepEqual(
      results.map((r) => r.status),
      Array(20).fill(201),
      JSON.stringify(results.filter((r) => r.status !== 201).map((r) => r.body)),
    )
    assert.ok(finishedBeforeSignal < 20, 'some requests were still in flight when SIGTERM arrived')
    assert.equal(await server.exited, 0, server.stderr())
    await assert.rejects(fetch(`${server.base}/health`), 'the port is closed after shutdown')
  })

  it('refuses to start on invalid configuration, naming every bad variable in one message', async () => {
    const bad = run(
      {
        PORT: 'abc',
        RATE_LIMIT_PER_MINUTE: '-1',
        LOG_LEVEL: 'chatty',
        METRICS_TOKEN: 'hunter2-metrics',
        HOST: '127.0.0.1',
        DATA_DIR: dataDir,
      },
      dataDir,
    )
    const code = await bad.exited
    assert.notEqual(code, 0)
    const message = bad.stderr().trim()
    assert.equal(message.split('\n').length, 1, message)
    for (const name of ['PORT', 'RATE_LIMIT_PER_MINUTE', 'LOG_LEVEL']) assert.match(message, new RegExp(name))
    assert.doesNotMatch(message, /abc|chatty|hunter2/)
    assert.equal(bad.stdout(), '')
  })
})

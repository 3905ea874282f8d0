// Crash safety with the real server process (`node src/main.ts`): the process is killed with
// SIGKILL while a delivery is in flight; after a restart the lease expires and the delivery is
// made, with the same webhook-id. A 201 means the event is durable.
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { startReceiver, verifyStandardWebhook, waitFor } from './events-support.ts'
import { freshPostgresSchema, PASSWORD, testEngines, uniqueEmail } from './helpers.ts'

interface Server {
  child: ChildProcess
  base: string
}

function startServer(env: Record<string, string>): Promise<Server> {
  const child = spawn(process.execPath, ['src/main.ts'], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  return new Promise((resolve, reject) => {
    let out = ''
    let err = ''
    const timer = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 20_000)
    child.stderr?.on('data', (c: Buffer) => {
      err += c.toString()
    })
    child.stdout?.on('data', (c: Buffer) => {
      out += c.toString()
      const match = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out)
      if (match?.[1]) {
        clearTimeout(timer)
        resolve({ child, base: match[1] })
      }
    })
    child.on('exit', (code) => reject(new Error(`server exited (${code}): ${err}`)))
  })
}

async function json(base: string, method: string, path: string, token?: string, body?: unknown) {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

for (const engine of testEngines()) {
  describe(`webhook delivery survives SIGKILL (${engine})`, () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'tt-crash-'))
    let dropSchema: (() => Promise<void>) | undefined
    const servers: Server[] = []
    after(async () => {
      for (const s of servers) s.child.kill('SIGKILL')
      await dropSchema?.()
      rmSync(dataDir, { recursive: true, force: true })
    })

    it('delivers after a restart what was in flight when the process was killed', async () => {
      let calls = 0
      const receiver = await startReceiver(0, (_req, res) => {
        calls += 1
        if (calls > 1) res.writeHead(200).end() // the first attempt hangs until the kill
      })
      try {
        const env: Record<string, string> = {
          PORT: '0',
          HOST: '127.0.0.1',
          DATA_DIR: dataDir,
          LOG_LEVEL: 'info',
          WEBHOOK_ALLOW_PRIVATE: 'true',
          WEBHOOK_POLL_INTERVAL_MS: '100',
          WEBHOOK_TIMEOUT_MS: '1000',
          WEBHOOK_LEASE_SECONDS: '1',
          WEBHOOK_RETRY_SCHEDULE: '1,1,1,1,1',
        }
        if (engine === 'postgres') {
          const schema = await freshPostgresSchema()
          env.DATABASE_URL = schema.url
          dropSchema = () => schema.drop()
        }
        const first = await startServer(env)
        servers.push(first)
        const email = uniqueEmail('crash')
        assert.equal(
          (
            await json(first.base, 'POST', '/v1/auth/register', undefined, {
              email,
              password: PASSWORD,
              name: 'C',
            })
          ).status,
          201,
        )
        const token = String(
          (await json(first.base, 'POST', '/v1/auth/login', undefined, { email, password: PASSWORD })).body
            .accessToken,
        )
        const hook = await json(first.base, 'POST', '/v1/webhooks', token, {
          url: receiver.url,
          events: ['task.created'],
        })
        assert.equal(hook.status, 201)
        const created = await json(first.base, 'POST', '/v1/tasks', token, { title: 'survives a crash' })
        assert.equal(created.status, 201)
        await waitFor(() => receiver.received.length >= 1, 'the attempt in flight')
        first.child.kill('SIGKILL')
        await new Promise((r) => first.child.once('exit', r))

        const second = await startServer(env)
        servers.push(second)
        await waitFor(() => receiver.received.length >= 2, 'the delivery after restart', 20_000)
        const [inFlight, redelivered] = receiver.received
        assert.equal(redelivered?.id, inFlight?.id, 'same webhook-id, so the receiver can dedupe')
        assert.equal(redelivered?.json.data.task.id, created.body.id)
        assert.ok(verifyStandardWebhook(String(hook.body.secret), redelivered!))
        await waitFor(async () => {
          const list = await json(second.base, 'GET', `/v1/webhooks/${hook.body.id}/deliveries`, token)
          const items = list.body.items as { status: string }[]
          return items[0]?.status === 'succeeded'
        }, 'delivery recorded as succeeded')
        second.child.kill('SIGTERM')
        const code = await new Promise((r) => second.child.once('exit', r))
        assert.equal(code, 0, 'graceful shutdown exits 0')
      } finally {
        await receiver.close()
      }
    })
  })
}

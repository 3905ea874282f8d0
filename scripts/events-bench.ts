// Measures the events pipeline on one instance: task changes through the outbox per second, the
// rate webhooks are delivered at, and change-to-webhook latency (201 received → receiver called).
// Usage: node scripts/events-bench.ts [--events 2000] [--concurrency 16] [--latency 300]
//        (DATABASE_URL=postgres://… to measure PostgreSQL; SQLite in a temporary directory otherwise)
import { mkdtempSync, rmSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { buildApp } from '../src/app.ts'
import { configFrom } from '../src/config.ts'

const { values } = parseArgs({
  options: {
    events: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '16' },
    latency: { type: 'string', default: '300' },
    'no-webhook': { type: 'boolean', default: false },
  },
})
const EVENTS = Number(values.events)
const CONCURRENCY = Number(values.concurrency)
const LATENCY_SAMPLES = Number(values.latency)

const dataDir = mkdtempSync(join(tmpdir(), 'tt-events-bench-'))
const arrivals = new Map<string, number>()
const receiver = http.createServer((req, res) => {
  const chunks: Buffer[] = []
  req.on('data', (c: Buffer) => chunks.push(c))
  req.on('end', () => {
    const body = JSON.parse(Buffer.concat(chunks).toString()) as { data: { task: { id: string } } }
    if (!arrivals.has(body.data.task.id)) arrivals.set(body.data.task.id, performance.now())
    res.writeHead(204).end()
  })
})
await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r))
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`

const app = await buildApp(
  configFrom({
    DATA_DIR: dataDir,
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
    LOG_LEVEL: 'silent',
    RATE_LIMIT_PER_MINUTE: 0,
    RATE_LIMIT_ANON_PER_MINUTE: 0,
    RATE_LIMIT_AUTH_PER_MINUTE: 0,
    WEBHOOK_ALLOW_PRIVATE: true,
  }),
)
await app.listen({ port: 0, host: '127.0.0.1' })
const base = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`

async function call(method: string, path: string, body: unknown, token?: string) {
  const res = await fetch(base + path, {
    method,
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  })
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`)
  return (await res.json()) as Record<string, unknown>
}

const email = `bench-${Date.now()}@example.com`
await call('POST', '/v1/auth/register', { email, password: 'benchmark password 1', name: 'Bench' })
const token = String(
  (await call('POST', '/v1/auth/login', { email, password: 'benchmark password 1' })).accessToken,
)
const createTask = async (i: number) =>
  String((await call('POST', '/v1/tasks', { title: `bench ${i}`, tags: ['bench'] }, token)).id)

if (!values['no-webhook'])
  await call('POST', '/v1/webhooks', { url: receiverUrl, events: ['task.created'] }, token)
else {
  console.log(JSON.stringify({ baseline: 'no webhook subscribed', ...(await throughputOnly()) }))
  await app.close()
  process.exit(0)
}
async function throughputOnly() {
  let n = 0
  const t0 = performance.now()
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (n < EVENTS) await createTask(n++)
    }),
  )
  return { outboxEventsPerSecond: Math.round(EVENTS / ((performance.now() - t0) / 1000)) }
}

async function waitForArrivals(ids: string[], timeoutMs = 120_000) {
  const end = Date.now() + timeoutMs
  while (!ids.every((id) => arrivals.has(id))) {
    if (Date.now() > end) throw new Error('deliveries did not arrive in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}

// 1. Throughput: EVENTS changes from CONCURRENCY clients; every one writes its event row and delivery.
const ids: string[] = []
let next = 0
const started = performance.now()
await Promise.all(
  Array.from({ length: CONCURRENCY }, async () => {
    while (next < EVENTS) ids.push(await createTask(next++))
  }),
)
const committed = performance.now()
await waitForArrivals(ids)
const delivered = performance.now()

// 2. Latency: one change at a time, from sending the request to the receiver having the delivery.
const latencies: number[] = []
for (let i = 0; i < LATENCY_SAMPLES; i++) {
  // From sending the change (its commit time is not observable from outside) to the delivery.
  const at = performance.now()
  const id = await createTask(EVENTS + i)
  await waitForArrivals([id], 30_000)
  latencies.push(arrivals.get(id)! - at)
}
latencies.sort((a, b) => a - b)
const pct = (p: number) =>
  latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))]!

const engine = process.env.DATABASE_URL ? 'postgres' : 'sqlite'
console.log(
  JSON.stringify(
    {
      engine,
      events: EVENTS,
      concurrency: CONCURRENCY,
      outboxEventsPerSecond: Math.round(EVENTS / ((committed - started) / 1000)),
      deliveredPerSecondEndToEnd: Math.round(EVENTS / ((delivered - started) / 1000)),
      latencySamples: LATENCY_SAMPLES,
      changeToWebhookMs: {
        p50: +pct(50).toFixed(1),
        p99: +pct(99).toFixed(1),
        max: +latencies.at(-1)!.toFixed(1),
      },
    },
    null,
    2,
  ),
)
await app.close()
receiver.close()
rmSync(dataDir, { recursive: true, force: true })

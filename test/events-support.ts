// Shared by the events/webhooks/SSE suites: a webhook receiver the test starts on a real socket,
// an independent Standard Webhooks verifier (HMAC written out from RFC 2104 over SHA-256, not the
// project's signer), an SSE client over node:http, and polling.
import assert from 'node:assert/strict'
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import type { Schema } from '../src/db/schema.ts'
import type { TestUser } from './helpers.ts'

export interface ReceivedDelivery {
  id: string
  timestamp: string
  signature: string
  body: string
  json: { type: string; timestamp: string; data: { task: { id: string; title: string; version: number } } }
}

export type Behaviour = (req: http.IncomingMessage, res: http.ServerResponse, body: string) => void

export interface Receiver {
  url: string
  port: number
  received: ReceivedDelivery[]
  behave(b: Behaviour): void
  close(): Promise<void>
}

export const ok: Behaviour = (_req, res) => {
  res.writeHead(204).end()
}

/** A webhook receiver on 127.0.0.1; `port` reuses a port (to bring a receiver "back up"). */
export async function startReceiver(port = 0, behaviour: Behaviour = ok): Promise<Receiver> {
  const received: ReceivedDelivery[] = []
  let behave = behaviour
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      received.push({
        id: String(req.headers['webhook-id']),
        timestamp: String(req.headers['webhook-timestamp']),
        signature: String(req.headers['webhook-signature']),
        body,
        json: JSON.parse(body),
      })
      behave(req, res, body)
    })
  })
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve))
  const actual = (server.address() as AddressInfo).port
  return {
    url: `http://127.0.0.1:${actual}/hook`,
    port: actual,
    received,
    behave: (b) => {
      behave = b
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** HMAC-SHA256 per RFC 2104, built from the hash alone so it shares no code with the signer. */
export function hmacSha256(key: Buffer, message: Buffer): Buffer {
  const block = 64
  let k = key.length > block ? createHash('sha256').update(key).digest() : key
  k = Buffer.concat([k, Buffer.alloc(block - k.length)])
  const ipad = Buffer.from(k.map((b) => b ^ 0x36))
  const opad = Buffer.from(k.map((b) => b ^ 0x5c))
  const inner = createHash('sha256').update(ipad).update(message).digest()
  return createHash('sha256').update(opad).update(inner).digest()
}

/** Verifies a Standard Webhooks delivery the way a receiver would. */
export function verifyStandardWebhook(secret: string, d: ReceivedDelivery, toleranceSeconds = 300): boolean {
  if (!secret.startsWith('whsec_')) return false
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64')
  if (Math.abs(Date.now() / 1000 - Number(d.timestamp)) > toleranceSeconds) return false
  const expected = hmacSha256(key, Buffer.from(`${d.id}.${d.timestamp}.${d.body}`, 'utf8'))
  return d.signature.split(' ').some((sig) => {
    const [version, value] = sig.split(',')
    if (version !== 'v1' || value === undefined) return false
    const given = Buffer.from(value, 'base64')
    return given.length === expected.length && timingSafeEqual(given, expected)
  })
}

export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  timeoutMs = 15_000,
): Promise<T> {
  const end = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 50))
  }
}

export interface SseEvent {
  id: string
  event: string
  data: string
}

export interface SseClient {
  status: number
  headers: http.IncomingHttpHeaders
  events: SseEvent[]
  comments: string[]
  ended: Promise<void>
  close(): void
}

/** A minimal SSE client over a real socket (parses id/event/data fields and comments). */
export function openSse(baseUrl: string, token: string, lastEventId?: string): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = http.get(
      `${baseUrl}/v1/events`,
      {
        headers: {
          authorization: `Bearer ${token}`,
          accept: 'text/event-stream',
          'accept-encoding': 'gzip, br',
          ...(lastEventId !== undefined ? { 'last-event-id': lastEventId } : {}),
        },
      },
      (res) => {
        const events: SseEvent[] = []
        const comments: string[] = []
        let buffer = ''
        res.setEncoding('utf8')
        const ended = new Promise<void>((r) => res.on('close', () => r()))
        res.on('data', (chunk: string) => {
          buffer += chunk
          let cut = buffer.indexOf('\n\n')
          while (cut >= 0) {
            const block = buffer.slice(0, cut)
            buffer = buffer.slice(cut + 2)
            const event: SseEvent = { id: '', event: 'message', data: '' }
            let hasData = false
            for (const line of block.split('\n')) {
              if (line.startsWith(':')) comments.push(line.slice(1).trim())
              else if (line.startsWith('id: ')) event.id = line.slice(4)
              else if (line.startsWith('event: ')) event.event = line.slice(7)
              else if (line.startsWith('data: ')) {
                event.data = line.slice(6)
                hasData = true
              }
            }
            if (hasData) events.push(event)
            cut = buffer.indexOf('\n\n')
          }
        })
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          events,
          comments,
          ended,
          close: () => req.destroy(),
        })
      },
    )
    req.on('error', reject)
  })
}

/** The webhook API calls the delivery suites share: subscribe, list deliveries, read an endpoint. */
export function webhookClient(app: () => FastifyInstance, user: () => TestUser) {
  return {
    async subscribe(url: string, events = ['task.created', 'task.updated', 'task.deleted', 'task.restored']) {
      const res = await app().inject({
        method: 'POST',
        url: '/v1/webhooks',
        headers: user().auth,
        payload: { url, events },
      })
      assert.equal(res.statusCode, 201, res.body)
      return res.json() as { id: string; secret: string }
    },
    async deliveries(webhookId: string) {
      const res = await app().inject({
        method: 'GET',
        url: `/v1/webhooks/${webhookId}/deliveries?limit=100`,
        headers: user().auth,
      })
      assert.equal(res.statusCode, 200, res.body)
      return (
        res.json() as {
          items: {
            id: string
            status: string
            attempts: number
            lastResponseStatus: number | null
            eventType: string
          }[]
        }
      ).items
    },
    async webhook(id: string) {
      const res = await app().inject({ method: 'GET', url: `/v1/webhooks/${id}`, headers: user().auth })
      return res.json() as { enabled: boolean; disabledReason: string | null; consecutiveFailures: number }
    },
  }
}

/** Settings for suites that deliver to a local receiver: private targets, fast polls and retries. */
export const DELIVERY_TEST_CONFIG = {
  WEBHOOK_ALLOW_PRIVATE: true,
  WEBHOOK_POLL_INTERVAL_MS: 100,
  WEBHOOK_RETRY_SCHEDULE: '1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1',
  WEBHOOK_TIMEOUT_MS: 1500,
  WEBHOOK_LEASE_SECONDS: 5,
  WEBHOOK_CONCURRENCY: 4,
}

/**
 * Webhook rows written straight into the table, for suites that need many or odd ones (the API
 * caps webhooks per account and checks their URLs). Returns their ids, in the order given.
 */
export async function insertWebhooks(
  db: Kysely<Schema>,
  ownerId: string,
  specs: { events: string[]; enabled?: boolean }[],
): Promise<string[]> {
  const now = new Date().toISOString()
  const rows = specs.map((spec) => ({
    id: randomUUID(),
    owner_id: ownerId,
    url: 'https://receiver.example.com/hook',
    description: '',
    events: JSON.stringify(spec.events),
    secret: 'whsec_test',
    enabled: spec.enabled ?? true,
    created_at: now,
    updated_at: now,
  }))
  for (let i = 0; i < rows.length; i += 500)
    await db
      .insertInto('webhooks')
      .values(rows.slice(i, i + 500) as never)
      .execute()
  return rows.map((r) => r.id)
}

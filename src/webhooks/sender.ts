// One webhook attempt over node:http(s): connects to the address the SSRF guard checked (custom
// `lookup`), never follows redirects, enforces one deadline for the whole exchange and never
// reads more than a small part of the answer, so a hostile receiver can hold one slot for at
// most the timeout and cannot make the process buffer its body.
import http from 'node:http'
import https from 'node:https'
import type { LookupFunction } from 'node:net'
import type { CheckedTarget } from './ssrf.ts'

const MAX_RESPONSE_BYTES = 64 * 1024

export type AttemptResult =
  | { kind: 'response'; status: number; retryAfter?: string }
  | { kind: 'error'; error: string }
  | { kind: 'aborted' }

export function sendWebhook(
  target: CheckedTarget,
  headers: Record<string, string>,
  body: string,
  timeoutMs: number,
  abort?: AbortSignal,
): Promise<AttemptResult> {
  const pinned: LookupFunction = (_hostname, options, callback) => {
    // Node asks for every address when it races IPv4/IPv6 (autoSelectFamily); answer with the one we checked.
    if (typeof options === 'object' && options?.all) {
      ;(callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [
        { address: target.address, family: target.family },
      ])
    } else callback(null, target.address, target.family)
  }
  const client = target.url.protocol === 'https:' ? https : http
  return new Promise((resolve) => {
    let settled = false
    let answered: AttemptResult | undefined
    const finish = (result: AttemptResult) => {
      if (settled) return
      settled = true
      clearTimeout(deadline)
      request.destroy()
      resolve(result)
    }
    const request = client.request(target.url, {
      method: 'POST',
      lookup: pinned,
      agent: false,
      headers: {
        ...headers,
        'content-type': 'application/json',
        'content-length': String(Buffer.byteLength(body)),
        'user-agent': 'task-tracker-webhooks/1',
      },
    })
    const deadline = setTimeout(
      () => finish(answered ?? { kind: 'error', error: `no answer within ${timeoutMs} ms` }),
      timeoutMs,
    )
    const onAbort = () => finish({ kind: 'aborted' })
    if (abort?.aborted) onAbort()
    abort?.addEventListener('abort', onAbort, { once: true })
    request.on('close', () => abort?.removeEventListener('abort', onAbort))
    request.on('error', (err) => finish({ kind: 'error', error: `connection failed: ${err.message}` }))
    request.on('response', (response) => {
      const status = response.statusCode ?? 0
      const retryAfter = response.headers['retry-after']
      const result: AttemptResult = {
        kind: 'response',
        status,
        ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
      }
      answered = result
      // The status decides the outcome; the body is drained up to a cap only so a well-behaved
      // receiver sees a clean exchange, within the same deadline.
      let received = 0
      response.on('data', (chunk: Buffer) => {
        received += chunk.length
        if (received > MAX_RESPONSE_BYTES) finish(result)
      })
      response.on('end', () => finish(result))
      response.on('error', () => finish(result))
    })
    request.end(body)
  })
}

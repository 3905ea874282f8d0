// Requests Node's HTTP parser refuses before any route sees them, over a real socket: each is
// answered with API.md §1's body and an X-Request-Id (the same id as in the body and in the log
// line), then the connection is closed; the server goes on answering everyone else.
import assert from 'node:assert/strict'
import type { AddressInfo } from 'node:net'
import { createConnection } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { buildTestApp, LogCapture, type TestApp } from './helpers.ts'

interface RawAnswer {
  status: number
  headers: Record<string, string>
  body: string
}

/** Sends `raw` bytes on a new connection and reads until the server closes it. */
function exchange(port: number, raw: string): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(port, '127.0.0.1')
    const chunks: Buffer[] = []
    socket.on('data', (chunk: Buffer) => chunks.push(chunk))
    socket.on('error', reject)
    socket.on('close', () => {
      const text = Buffer.concat(chunks).toString('utf8')
      const [head = '', body = ''] = text.split('\r\n\r\n')
      const [statusLine = '', ...lines] = head.split('\r\n')
      const headers = Object.fromEntries(
        lines.map((line) => [
          line.slice(0, line.indexOf(':')).toLowerCase(),
          line.slice(line.indexOf(':') + 1).trim(),
        ]),
      )
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body })
    })
    socket.write(raw)
  })
}

describe('requests the HTTP parser refuses', () => {
  let t: TestApp
  let port: number
  const logs = new LogCapture()
  before(async () => {
    t = await buildTestApp({ LOG_LEVEL: 'info' }, { logStream: logs })
    await t.app.listen({ port: 0, host: '127.0.0.1' })
    port = (t.app.server.address() as AddressInfo).port
  })
  after(() => t.close())

  const cases: [string, string, number, string][] = [
    ['an unknown method', 'FOO /v1/tasks HTTP/1.1\r\nHost: x\r\n\r\n', 400, 'MALFORMED_REQUEST'],
    [
      'a space in a header name',
      'GET /health HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n',
      400,
      'MALFORMED_REQUEST',
    ],
    [
      'Content-Length beside Transfer-Encoding',
      'POST /v1/tasks HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
      'MALFORMED_REQUEST',
    ],
    [
      'headers over the size limit',
      `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
      431,
      'HEADERS_TOO_LARGE',
    ],
    // Refused after parsing, by Node (an Expect it does not meet) or by RFC 9112 §3.2 (Host).
    [
      'an Expect other than 100-continue',
      'GET /health HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nConnection: close\r\n\r\n',
      417,
      'EXPECTATION_FAILED',
    ],
    [
      'an HTTP/1.1 request without Host',
      'GET /health HTTP/1.1\r\nConnection: close\r\n\r\n',
      400,
      'MALFORMED_REQUEST',
    ],
    [
      'two Host headers',
      'GET /health HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n',
      400,
      'MALFORMED_REQUEST',
    ],
    [
      'CONNECT',
      'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n',
      400,
      'MALFORMED_REQUEST',
    ],
  ]
  for (const [name, raw, status, code] of cases) {
    it(`answers ${name} with ${status} ${code}, a request id and the error body`, async () => {
      const answer = await exchange(port, raw)
      assert.equal(answer.status, status, JSON.stringify(answer))
      assert.equal(answer.headers['content-type'], 'application/json; charset=utf-8')
      assert.equal(answer.headers.connection, 'close')
      // The security headers of every response (API.md §5).
      assert.equal(answer.headers['x-content-type-options'], 'nosniff')
      assert.match(answer.headers['content-security-policy'] ?? '', /default-src 'none'/)
      const body = JSON.parse(answer.body) as { error: { code: string; message: string; requestId: string } }
      assert.equal(body.error.code, code)
      assert.ok(body.error.message.length > 0)
      assert.match(answer.headers['x-request-id'] ?? '', /^[0-9a-f-]{36}$/)
      assert.equal(body.error.requestId, answer.headers['x-request-id'])
      assert.ok(
        logs.entries().some((e) => e.requestId === body.error.requestId && e.status === status),
        'a log line with the same request id',
      )
    })
  }

  it('answers an unmet Expect with the request id the client sent and every security header', async () => {
    const answer = await exchange(
      port,
      'GET /health HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\nX-Request-Id: mine-1\r\n\r\n',
    )
    assert.equal(answer.status, 417)
    assert.equal(answer.headers['x-request-id'], 'mine-1')
    assert.equal(answer.headers.connection, 'close')
    assert.equal(answer.headers['x-content-type-options'], 'nosniff')
    assert.match(answer.headers['content-security-policy'] ?? '', /default-src 'none'/)
  })

  it('goes on answering well-formed requests', async () => {
    const answer = await exchange(port, 'GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')
    assert.equal(answer.status, 200)
    // HTTP/1.0 has no Host requirement.
    assert.equal((await exchange(port, 'GET /health HTTP/1.0\r\n\r\n')).status, 200)
  })
})

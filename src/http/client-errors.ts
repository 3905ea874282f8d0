// Requests Node's HTTP parser refuses before Fastify sees them: a malformed request line or
// header (an unknown method, raw non-ASCII in the target, Content-Length beside
// Transfer-Encoding), headers over the size limit, a request that did not arrive in time, and
// CONNECT, which Node hands to a listener of its own and otherwise drops without an answer.
// Fastify's default answers in a body of its own, without a request id; these answers have
// API.md §1's body and X-Request-Id like every other response, and a log line with that id.
// Fastify offers no hook here but its clientErrorHandler option, which writes to the socket
// itself, as this does; the connection is closed after the answer, as Node's own is.
import { randomUUID } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { FastifyBaseLogger, FastifyInstance } from 'fastify'
import { ERROR_STATUS, type ErrorCode } from '../errors.ts'
import { requestIdFor } from './lifecycle.ts'
import { API_SECURITY_HEADERS } from './security-headers.ts'

/** The security headers every response carries (API.md §5), as raw header lines. */
const SECURITY_LINES = Object.entries(API_SECURITY_HEADERS)
  .map(([name, value]) => `${name}: ${value}\r\n`)
  .join('')

interface Refusal {
  code: ErrorCode
  reason: string
  message: string
}

const BY_PARSER_CODE: Record<string, Refusal> = {
  HPE_HEADER_OVERFLOW: {
    code: 'HEADERS_TOO_LARGE',
    reason: 'Request Header Fields Too Large',
    message: 'The request line and headers are larger than this server takes',
  },
  ERR_HTTP_REQUEST_TIMEOUT: {
    code: 'REQUEST_TIMEOUT',
    reason: 'Request Timeout',
    message: 'The request did not arrive in time',
  },
}
const MALFORMED: Refusal = {
  code: 'MALFORMED_REQUEST',
  reason: 'Bad Request',
  message: 'The request is not well-formed HTTP/1.1',
}
const CONNECT: Refusal = {
  code: 'MALFORMED_REQUEST',
  reason: 'Bad Request',
  message: 'CONNECT is not served here: this is not a proxy',
}

/** Writes `refusal` as a complete response on a socket no request object owns, then closes it. */
function refuse(log: FastifyBaseLogger, socket: Socket, refusal: Refusal, cause: string): void {
  const requestId = randomUUID()
  const status = ERROR_STATUS[refusal.code]
  log.info({ requestId, status, cause }, 'request refused before routing')
  // A response already under way on this connection has sent its head: another cannot follow.
  const underWay = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent
  if (socket.writable && !underWay) {
    const body = JSON.stringify({ error: { code: refusal.code, message: refusal.message, requestId } })
    socket.end(
      `HTTP/1.1 ${status} ${refusal.reason}\r\n` +
        'content-type: application/json; charset=utf-8\r\n' +
        `content-length: ${Buffer.byteLength(body)}\r\n` +
        `x-request-id: ${requestId}\r\n` +
        'cache-control: no-store\r\n' +
        SECURITY_LINES +
        'connection: close\r\n\r\n' +
        body,
    )
  }
  // Closed once the answer is written, whatever the client does next.
  socket.destroySoon()
}

/** Fastify's clientErrorHandler option: `this` is the Fastify instance. */
export function clientErrorHandler(
  this: FastifyInstance,
  error: Error & { code?: string },
  socket: Duplex,
): void {
  // A connection reset leaves nothing to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  // Node's HTTP server hands its own net.Socket here; the types say Duplex.
  refuse(
    this.log,
    socket as Socket,
    BY_PARSER_CODE[error.code ?? ''] ?? MALFORMED,
    error.code ?? 'parse error',
  )
}

/**
 * Answers what Node's server answers by itself, never reaching Fastify's router: CONNECT (dropped
 * without an answer otherwise) and an Expect other than 100-continue (a bare 417 otherwise).
 */
export function answerOutsideRouting(app: FastifyInstance): void {
  app.server.on('connect', (_request: IncomingMessage, socket: Duplex) => {
    refuse(app.log, socket as Socket, CONNECT, 'CONNECT')
  })
  app.server.on('checkExpectation', (request: IncomingMessage, response: ServerResponse) => {
    const requestId = requestIdFor(request)
    app.log.info({ requestId, status: 417, cause: 'Expect' }, 'request refused before routing')
    const body = JSON.stringify({
      error: {
        code: 'EXPECTATION_FAILED',
        message: 'The only expectation this server meets is Expect: 100-continue',
        requestId,
      },
    })
    response.writeHead(ERROR_STATUS.EXPECTATION_FAILED, {
      ...API_SECURITY_HEADERS,
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(body),
      'x-request-id': requestId,
      'cache-control': 'no-store',
      // Its body was not read: the connection cannot carry another request.
      connection: 'close',
    })
    response.end(body)
  })
}

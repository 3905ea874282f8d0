// The one place that writes error bodies (API.md §1). Domain ApiErrors keep
// their code; Fastify's own errors are classified by their `code`, never by message.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isDatabaseUnavailable } from '../db/errors.ts'
import { ApiError, ERROR_STATUS, type ErrorCode, type ErrorDetail } from '../errors.ts'
import { validationDetails } from './validation.ts'

const FASTIFY_CODES: Record<string, { code: ErrorCode; message: string }> = {
  FST_ERR_CTP_INVALID_JSON_BODY: { code: 'MALFORMED_JSON', message: 'Request body is not valid JSON' },
  FST_ERR_CTP_EMPTY_JSON_BODY: { code: 'MALFORMED_JSON', message: 'Request body is empty' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    code: 'MALFORMED_JSON',
    message: 'Request body length does not match Content-Length',
  },
  FST_ERR_CTP_BODY_TOO_LARGE: { code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'Request body must be application/json',
  },
  FST_ERR_CTP_INVALID_TYPE: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'Request body must be application/json',
  },
  // @fastify/compress, decoding request bodies: a coding it does not know, or a body that is not in its coding.
  FST_CP_ERR_INVALID_CONTENT_ENCODING: {
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: 'Request body is in a Content-Encoding this server does not decode (gzip, deflate, br, zstd)',
  },
  FST_CP_ERR_INVALID_CONTENT: {
    code: 'MALFORMED_JSON',
    message: 'Request body could not be decoded with its Content-Encoding',
  },
  FST_ERR_BAD_URL: { code: 'NOT_FOUND', message: 'Route not found' },
  // A path parameter longer than the router allows is a malformed id: 404, as API.md §1 says.
  FST_ERR_MAX_PARAM_LENGTH: { code: 'NOT_FOUND', message: 'Route not found' },
}

/** A plugin error that only carries an HTTP status maps to the catalogue code for that status. */
const STATUS_FALLBACK: Record<number, { code: ErrorCode; message: string }> = {
  400: { code: 'MALFORMED_JSON', message: 'Request body could not be read' },
  404: { code: 'NOT_FOUND', message: 'Route not found' },
  406: { code: 'NOT_ACCEPTABLE', message: 'Cannot produce a representation the Accept header allows' },
  413: { code: 'PAYLOAD_TOO_LARGE', message: 'Request body is too large' },
  415: { code: 'UNSUPPORTED_MEDIA_TYPE', message: 'Request body must be application/json' },
  429: { code: 'RATE_LIMITED', message: 'Too many requests' },
  503: { code: 'SERVICE_UNAVAILABLE', message: 'Service temporarily unavailable' },
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: ErrorDetail[]; requestId: string }
}

export function errorBody(
  request: FastifyRequest,
  code: ErrorCode,
  message: string,
  details?: ErrorDetail[],
): ErrorBody {
  return { error: { code, message, ...(details ? { details } : {}), requestId: String(request.id) } }
}

/** Classifies any thrown value into status, code, message, details and headers. */
export interface ClassifiedError {
  status: number
  code: ErrorCode
  message: string
  details?: ErrorDetail[]
  headers: Record<string, string>
  unexpected: boolean
}

export function classifyError(error: unknown): ClassifiedError {
  if (error instanceof ApiError) {
    return {
      status: error.status,
      code: error.code,
      message: error.message,
      details: error.details,
      headers: error.headers,
      unexpected: false,
    }
  }
  const fe = error as Partial<FastifyError> & { validation?: unknown[]; validationContext?: string }
  if (Array.isArray(fe.validation)) {
    const details = validationDetails(fe.validation as never, fe.validationContext)
    // The messages the services' own checks use too (validationFailed), so one kind of problem
    // reads the same whichever pass found it.
    const message =
      fe.validationContext === 'body'
        ? 'Request body is invalid'
        : fe.validationContext === 'headers'
          ? 'Request headers are invalid'
          : fe.validationContext === 'params'
            ? 'Path parameters are invalid'
            : 'Query parameters are invalid'
    return {
      status: 422,
      code: 'VALIDATION_FAILED',
      message,
      details,
      headers: {},
      unexpected: false,
    }
  }
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined
  if (known) return { status: ERROR_STATUS[known.code], ...known, headers: {}, unexpected: false }
  if (error instanceof SyntaxError && fe.statusCode === 400) {
    return {
      status: 400,
      code: 'MALFORMED_JSON',
      message: 'Request body is not valid JSON',
      headers: {},
      unexpected: false,
    }
  }
  const status = typeof fe.statusCode === 'number' ? fe.statusCode : 500
  const fallback = STATUS_FALLBACK[status]
  if (fallback) return { status, ...fallback, headers: {}, unexpected: false }
  // Database trouble is the service's, not the request's: 503 with a hint when to retry.
  if (isDatabaseBusy(error)) return databaseUnavailable('Database is busy, retry shortly', 1)
  if (isDatabaseUnavailable(error))
    return databaseUnavailable('The database is not reachable, retry shortly', 2)
  // PostgreSQL query_canceled: the statement timeout ran out (an overloaded database).
  if ((error as { code?: unknown })?.code === '57014')
    return databaseUnavailable('Database is busy, retry shortly', 1)
  return {
    status: 500,
    code: 'INTERNAL_ERROR',
    message: 'Internal server error',
    headers: {},
    unexpected: true,
  }
}

function databaseUnavailable(message: string, retryAfterSeconds: number): ClassifiedError {
  return {
    status: 503,
    code: 'SERVICE_UNAVAILABLE',
    message,
    headers: { 'retry-after': String(retryAfterSeconds) },
    unexpected: false,
  }
}

function isDatabaseBusy(error: unknown): boolean {
  const e = error as { code?: string; errcode?: number }
  // DatabaseBusyError (too many searches waiting for SQLite's search threads).
  if (e?.code === 'DATABASE_BUSY') return true
  // SQLITE_BUSY (5) and SQLITE_LOCKED (6) after busy_timeout ran out.
  return e?.code === 'ERR_SQLITE_ERROR' && (e.errcode === 5 || e.errcode === 6)
}

export function registerErrorHandler(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const c = classifyError(error)
    if (c.unexpected) request.log.error({ err: error }, 'unexpected error')
    else if (c.status >= 500) request.log.warn({ err: error, code: c.code }, 'service unavailable')
    for (const [name, value] of Object.entries(c.headers)) reply.header(name, value)
    return reply
      .code(c.status)
      .type('application/json; charset=utf-8')
      .send(errorBody(request, c.code, c.message, c.details))
  })
}

/**
 * Fastify's `frameworkErrors` hook: errors the router raises before any route or
 * hook runs (undecodable URLs, over-long path parameters). Without it Fastify writes
 * its own body, which is not the API.md §1 shape and lacks X-Request-Id.
 */
export function frameworkErrorHandler(
  error: FastifyError,
  request: FastifyRequest,
  reply: FastifyReply,
): void {
  const c = classifyError(error)
  for (const [name, value] of Object.entries(c.headers)) reply.header(name, value)
  reply
    .code(c.status)
    .header('x-request-id', request.id)
    .header('x-content-type-options', 'nosniff')
    .type('application/json; charset=utf-8')
    .send(errorBody(request, c.code, c.message, c.details))
}

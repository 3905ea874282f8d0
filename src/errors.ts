// The error catalogue: one class with a stable code per failure. Services throw
// these; the HTTP error handler (src/http/error-handler.ts) turns them into API.md §1 bodies.

export interface ErrorDetail {
  field: string
  message: string
}

export const ERROR_STATUS = {
  MALFORMED_JSON: 400,
  /** Not HTTP the server can read (src/http/client-errors.ts); API.md §1 has no code for it. */
  MALFORMED_REQUEST: 400,
  UNAUTHENTICATED: 401,
  INVALID_TOKEN: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  INSUFFICIENT_SCOPE: 403,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ACCEPTABLE: 406,
  CONFLICT: 409,
  EMAIL_TAKEN: 409,
  IDEMPOTENCY_IN_PROGRESS: 409,
  /** The request did not arrive in time (src/http/client-errors.ts). */
  REQUEST_TIMEOUT: 408,
  PRECONDITION_FAILED: 412,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  /** An Expect header other than 100-continue (src/http/client-errors.ts). */
  EXPECTATION_FAILED: 417,
  VALIDATION_FAILED: 422,
  IDEMPOTENCY_KEY_REUSED: 422,
  PRECONDITION_REQUIRED: 428,
  RATE_LIMITED: 429,
  TOO_MANY_ATTEMPTS: 429,
  /** The request line and headers are over Node's limit (src/http/client-errors.ts). */
  HEADERS_TOO_LARGE: 431,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
} as const

export type ErrorCode = keyof typeof ERROR_STATUS

export class ApiError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly details: ErrorDetail[] | undefined
  /** Response headers the error carries (Allow, Retry-After, WWW-Authenticate…). */
  readonly headers: Record<string, string>

  constructor(
    code: ErrorCode,
    message: string,
    options: { details?: ErrorDetail[]; headers?: Record<string, string> } = {},
  ) {
    super(message)
    this.name = 'ApiError'
    this.code = code
    this.status = ERROR_STATUS[code]
    this.details = options.details
    this.headers = options.headers ?? {}
  }
}

export const notFound = (what = 'Resource') => new ApiError('NOT_FOUND', `${what} not found`)
export const forbidden = (message = 'You are not allowed to do this') => new ApiError('FORBIDDEN', message)
/** 412, naming the header whose condition failed. */
export const preconditionFailed = (header: 'if-match' | 'if-none-match' = 'if-match') =>
  new ApiError(
    'PRECONDITION_FAILED',
    header === 'if-match'
      ? 'If-Match does not match the current version of the resource'
      : 'If-None-Match matches the current version of the resource',
  )
/**
 * The detail for a string holding half of a surrogate pair (JSON's `"\ud800"`), which is no
 * character: stored as UTF-8 it becomes U+FFFD, so what was read back would differ from what
 * was sent, and two passwords differing there would be one.
 */
export const UNPAIRED_SURROGATE = 'must be valid Unicode text (an unpaired surrogate such as \\ud800 is not)'

export const validationFailed = (details: ErrorDetail[], message = 'Request is invalid') =>
  new ApiError('VALIDATION_FAILED', message, { details })
export const serviceUnavailable = (message = 'Service temporarily unavailable', retryAfterSeconds = 5) =>
  new ApiError('SERVICE_UNAVAILABLE', message, { headers: { 'retry-after': String(retryAfterSeconds) } })

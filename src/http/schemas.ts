// Schemas shared by every route: the error body of API.md §1 and the error
// responses each route documents in the OpenAPI document.
import { type TSchema, Type } from '@sinclair/typebox'

export const ErrorDetailSchema = Type.Object({
  field: Type.String({
    description: 'Dotted path into the body, or the query/path parameter or header name',
  }),
  message: Type.String(),
})

export const ErrorSchema = Type.Object(
  {
    error: Type.Object({
      code: Type.String({ description: 'Stable, machine-readable code (API.md §1)' }),
      message: Type.String({ description: 'For humans; never a stack trace, SQL, path or secret' }),
      details: Type.Optional(Type.Array(ErrorDetailSchema)),
      requestId: Type.String(),
    }),
  },
  { $id: 'Error', title: 'Error' },
)

const DESCRIPTIONS: Record<number, string> = {
  400: 'MALFORMED_JSON (the body is not parseable JSON, or not UTF-8) or MALFORMED_REQUEST (an HTTP/1.1 request without exactly one Host header; more than one Authorization header, with WWW-Authenticate: Bearer error="invalid_request")',
  401: 'UNAUTHENTICATED (no credentials), INVALID_TOKEN (bad, expired or revoked token) or, on login, INVALID_CREDENTIALS',
  403: 'FORBIDDEN (not the owner) or INSUFFICIENT_SCOPE (token lacks the scope)',
  404: 'NOT_FOUND: no such resource, or not visible to the caller (malformed ids included)',
  405: 'METHOD_NOT_ALLOWED, with an Allow header',
  406: 'NOT_ACCEPTABLE: the Accept header excludes what the endpoint produces (application/json unless it says otherwise)',
  409: 'CONFLICT, EMAIL_TAKEN or IDEMPOTENCY_IN_PROGRESS',
  412: 'PRECONDITION_FAILED: If-Match does not match the current ETag (on a resource without one, only `*` does), or If-None-Match does; nothing changed',
  413: 'PAYLOAD_TOO_LARGE: body over BODY_LIMIT_BYTES (default 1 MiB)',
  415: 'UNSUPPORTED_MEDIA_TYPE: the body is not application/json (in UTF-8), or in a Content-Encoding not decoded',
  422: 'VALIDATION_FAILED (every problem listed in details) or IDEMPOTENCY_KEY_REUSED',
  428: 'PRECONDITION_REQUIRED: the deployment requires If-Match',
  429: 'RATE_LIMITED or TOO_MANY_ATTEMPTS, with Retry-After',
  500: 'INTERNAL_ERROR: unexpected; logged with the request id',
  503: 'SERVICE_UNAVAILABLE: a dependency is down or overloaded, or the service is shutting down; with Retry-After',
}

// 400: any route refuses an HTTP/1.1 request without exactly one Host header (src/http/lifecycle.ts).
const ALWAYS = [400, 406, 429, 500, 503]

/** Error responses for a route's schema: the listed statuses plus those any route can return. */
export function errorResponses(...statuses: number[]): Record<number, TSchema> {
  const out: Record<number, TSchema> = {}
  for (const status of [...new Set([...statuses, ...ALWAYS])].sort()) {
    out[status] = Type.Ref(ErrorSchema, { description: DESCRIPTIONS[status] ?? 'Error' })
  }
  return out
}

/** `string | null` as one JSON-schema type, so validation errors name the field once. */
export function Nullable<T extends TSchema>(schema: T) {
  const { type, ...rest } = schema as unknown as { type: string }
  return Type.Unsafe<T['static'] | null>({ ...rest, type: [type, 'null'] })
}

export const NoContent = Type.Null({ description: 'No content' })

/** A string enum as `{ type: string, enum }`, so a bad value gets one error naming every allowed value. */
export function StringEnum<const T extends readonly string[]>(
  values: T,
  options: { description?: string; default?: T[number] } = {},
) {
  return Type.Unsafe<T[number]>({ type: 'string', enum: [...values], ...options })
}

/** A string that must match a pattern, with the message shown in `details` when it does not. */
export function Matching(pattern: string, message: string, options: Record<string, unknown> = {}) {
  return Type.String({ pattern, 'x-error': message, ...options })
}

// Documents the response headers of API.md in the generated OpenAPI document: route schemas
// describe bodies; the headers every answer (or a class of answers) carries are added here, once.
type Header = { description: string; schema: { type: 'string' | 'integer' } }
type Response = { headers?: Record<string, Header> } & Record<string, unknown>
type Operation = {
  responses?: Record<string, Response>
  requestBody?: { content?: Record<string, unknown> }
}
type Document = { paths?: Record<string, Record<string, Operation>> }

const text = (description: string): Header => ({ description, schema: { type: 'string' } })

const REQUEST_ID = text(
  'The request id: the client-sent X-Request-Id when it is 1–128 of [A-Za-z0-9._:-], else a generated one',
)
const RATE_LIMIT_POLICY = text('IETF RateLimit-Policy: the policy that applies, e.g. "user";q=600;w=60')
const RATE_LIMIT = text('IETF RateLimit: what is left of the policy, e.g. "user";r=599;t=60')
const RETRY_AFTER: Header = { description: 'Seconds to wait before retrying', schema: { type: 'integer' } }
const ETAG = text('The version of the task, for If-None-Match (304) and If-Match (412)')
const LIST_ETAG = text(
  'A weak tag of this page (its tasks and their versions, and the page), for If-None-Match (304)',
)
const LOCATION = text('Where the created resource lives')
const LINK = text('<…?cursor=…>; rel="next" while there is a next page')
const WWW_AUTHENTICATE = text('Bearer challenge; error="invalid_token" for a bad, expired or revoked token')

const ETAG_OPERATIONS = new Set([
  'post /v1/tasks',
  'get /v1/tasks',
  'get /v1/tasks/{id}',
  'patch /v1/tasks/{id}',
  'post /v1/tasks/{id}/restore',
])

/** Operations whose 401 carries no Bearer challenge: a login's wrong password, a refresh token refused. */
const NO_CHALLENGE = new Set(['post /v1/auth/login', 'post /v1/auth/refresh'])

/** Operations whose 409 says when to retry: an idempotent create in flight, a delivery held for an attempt. */
const RETRY_AFTER_409 = new Set([
  'post /v1/tasks',
  'post /v1/webhooks/{id}/deliveries/{deliveryId}/redeliver',
])

/** Adds the headers to every response of every operation; PATCH also accepts application/merge-patch+json. */
export function documentHeaders<T>(document: T): T {
  const paths = (document as Document).paths ?? {}
  for (const [path, operations] of Object.entries(paths)) {
    for (const [method, operation] of Object.entries(operations)) {
      if (typeof operation !== 'object' || operation === null || !operation.responses) continue
      const name = `${method} ${path}`
      for (const [status, response] of Object.entries(operation.responses)) {
        const headers: Record<string, Header> = { 'X-Request-Id': REQUEST_ID }
        // A 406 is refused before the rate limit counts the request, and carries no RateLimit fields.
        if (path.startsWith('/v1/') && status !== '406')
          Object.assign(headers, { 'RateLimit-Policy': RATE_LIMIT_POLICY, RateLimit: RATE_LIMIT })
        if (status === '429' || status === '503' || (status === '409' && RETRY_AFTER_409.has(name)))
          headers['Retry-After'] = RETRY_AFTER
        if (status === '401' && !NO_CHALLENGE.has(name)) headers['WWW-Authenticate'] = WWW_AUTHENTICATE
        if (status === '201') headers.Location = LOCATION
        if (ETAG_OPERATIONS.has(name) && (status.startsWith('2') || status === '304'))
          headers.ETag = name === 'get /v1/tasks' ? LIST_ETAG : ETAG
        if (name === 'get /v1/tasks' && status === '200') headers.Link = LINK
        if (name === 'post /v1/tasks' && status === '201')
          headers['Idempotency-Replayed'] = text('"true" when this is the replay of an earlier response')
        response.headers = { ...headers, ...(response.headers ?? {}) }
      }
      const content = operation.requestBody?.content
      if (method === 'patch' && content?.['application/json'] && !content['application/merge-patch+json'])
        content['application/merge-patch+json'] = content['application/json']
    }
  }
  return document
}

// Request-scoped plumbing: request ids (API.md §0), content negotiation (406,
// through @fastify/accepts),
// JSON body parsing (400/415), draining on shutdown and the one log line per request.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyReply, FastifyRequest, RawRequestDefaultExpression } from 'fastify'
import secureJson from 'secure-json-parse'
import { ApiError, validationFailed } from '../errors.ts'
import { sentTwice } from './raw-headers.ts'

/** What every route produces unless it says otherwise, as it is sent (an Accept naming the charset matches). */
const JSON_TYPE = 'application/json; charset=utf-8'

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/
/** The charset parameter of a Content-Type, quoted or not. */
const CHARSET = /;\s*charset\s*=\s*"?([^";\s]*)/i
/** Bodies are UTF-8 (API.md §0): bytes that are not are refused, not stored as U+FFFD. */
const UTF8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Where a parsed body holds the keys secure-json-parse refuses (`__proto__`, or `constructor`
 * holding `prototype`), as validation details' dotted paths: valid JSON with a key no body
 * has is a 422 naming it, as any unknown field is, not a 400. JSON.parse makes such keys own
 * properties, so walking them here is safe.
 */
function parsedForbiddenKeys(text: string): string[] | undefined {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined
  }
  return forbiddenKeys(value, '', [])
}

function forbiddenKeys(value: unknown, path: string, found: string[]): string[] {
  if (typeof value !== 'object' || value === null) return found
  for (const [key, item] of Object.entries(value)) {
    const at = path ? `${path}.${key}` : key
    const polluting =
      key === '__proto__' ||
      (key === 'constructor' && typeof item === 'object' && item !== null && Object.hasOwn(item, 'prototype'))
    if (polluting) found.push(at)
    else forbiddenKeys(item, at, found)
  }
  return found
}

/** Reuses a well-formed client X-Request-Id, otherwise makes one. */
export function requestIdFor(raw: RawRequestDefaultExpression): string {
  const header = raw.headers['x-request-id']
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID()
}

const BODY_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE'])

/** preValidation for routes without a body schema: anything but no body or `{}` is a 422. */
function refuseBody(request: FastifyRequest, _reply: unknown, done: (error?: Error) => void): void {
  const body = request.body
  const isObject = typeof body === 'object' && body !== null && !Array.isArray(body)
  if (body === undefined || (isObject && Object.keys(body).length === 0)) {
    done()
    return
  }
  done(
    validationFailed(
      isObject
        ? Object.keys(body).map((field) => ({ field, message: 'is not a known field' }))
        : [{ field: 'body', message: 'must be empty: this request takes no body' }],
      'Request body is invalid',
    ),
  )
}

export function registerLifecycle(app: FastifyInstance, state: { isShuttingDown(): boolean }): void {
  // JSON bodies: an empty body is "no body" (schemas decide whether one is required),
  // anything unparseable is 400 MALFORMED_JSON. merge-patch+json is JSON too.
  // Fastify's built-in text/plain parser goes too: a text body must be 415, not a string the schema rejects.
  app.removeContentTypeParser(['application/json', 'text/plain'])
  app.addContentTypeParser(
    ['application/json', 'application/merge-patch+json'],
    { parseAs: 'buffer' },
    (request, body, done) => {
      const charset = CHARSET.exec(request.headers['content-type'] ?? '')?.[1]?.toLowerCase()
      if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8')
        return done(
          new ApiError('UNSUPPORTED_MEDIA_TYPE', 'Request body must be JSON in UTF-8 (charset=utf-8)'),
          undefined,
        )
      let text: string
      try {
        text = typeof body === 'string' ? body : UTF8.decode(body)
      } catch {
        return done(new ApiError('MALFORMED_JSON', 'Request body is not valid UTF-8'), undefined)
      }
      if (text.trim() === '') return done(null, undefined)
      try {
        done(
          null,
          // Prototype pollution through "__proto__"/"constructor.prototype" keys is refused outright.
          // secure-json-parse (Fastify's own parser) only walks the result when the text contains
          // such a key; a JSON.parse reviver ran for every value (5 % of a create's CPU).
          secureJson.parse(text, undefined, { protoAction: 'error', constructorAction: 'error' }),
        )
      } catch {
        // Refused text that JSON.parse reads was refused for a prototype-polluting key.
        const keys = parsedForbiddenKeys(text)
        done(
          keys !== undefined && keys.length > 0
            ? validationFailed(
                keys.map((field) => ({ field, message: 'is not a known field' })),
                'Request body is invalid',
              )
            : new ApiError('MALFORMED_JSON', 'Request body is not valid JSON'),
          undefined,
        )
      }
    },
  )

  // A request that takes no body (a DELETE, a restore, a redelivery) refuses one that is not
  // empty, as unknown fields are refused everywhere (API.md §1): `{"force": true}` sent with a
  // DELETE would otherwise be dropped unread and the change made. `{}` and no body are the same.
  app.addHook('onRoute', (route) => {
    if (route.schema?.body === undefined && [route.method].flat().some((m) => BODY_METHODS.has(m)))
      route.preValidation = [...[route.preValidation ?? []].flat(), refuseBody]
  })

  app.addHook('onRequest', (request, reply, done) => {
    reply.header('x-request-id', request.id)
    // RFC 9112 §3.2: an HTTP/1.1 request without a Host header, or with two, is a 400.
    if (
      (request.headers.host === undefined && request.raw.httpVersion !== '1.0') ||
      sentTwice(request.raw.rawHeaders, 'host')
    )
      return done(new ApiError('MALFORMED_REQUEST', 'An HTTP/1.1 request carries exactly one Host header'))
    if (request.is404) return done()
    const config = request.routeOptions.config
    if (config.public === undefined && config.scope === undefined) return done() // not one of ours (Swagger UI assets)
    const produces = config.produces ?? JSON_TYPE
    if (produces === false) return done()
    // "*/*" (autocannon, curl, most clients) accepts anything: no need to parse it.
    const accept = request.headers.accept
    if (accept !== undefined && accept !== '*/*' && request.accepts().type([produces]) === false) {
      return done(
        new ApiError(
          'NOT_ACCEPTABLE',
          `This endpoint produces ${produces.split(';')[0]}; the Accept header excludes it`,
        ),
      )
    }
    done()
  })

  // Draining (API.md §6): a request that reaches us after SIGTERM may have been sent before it,
  // so it is served, not refused. Every response sent while draining (including those of requests
  // that began earlier) carries Connection: close, so no keep-alive socket outlives its last
  // response and holds app.close() open; the client's next request goes elsewhere (/ready is 503).
  // Responses are per caller and may carry tokens or secrets: unless a route chose a policy
  // (task reads revalidate with ETags, JWKS is public), nothing may be stored by any cache.
  // One callback-style hook for both: it runs on every response, and an async hook costs a
  // promise per call (measured in the bench, see the commit message).
  app.addHook('onSend', (_request, reply, payload, done) => {
    if (state.isShuttingDown()) reply.header('connection', 'close')
    if (!reply.hasHeader('cache-control')) reply.header('cache-control', 'no-store')
    done(null, payload)
  })

  app.addHook('onResponse', (request: FastifyRequest, reply, done) => {
    logCompletion(request, reply)
    done()
  })
}

/**
 * The one log line of a request (API.md §6), written once its response is sent; and, by a
 * response the client walked away from (a live event stream), when it closed, with `closedBy`.
 */
export function logCompletion(request: FastifyRequest, reply: FastifyReply, closedBy?: 'client'): void {
  const line: Record<string, unknown> = {
    userId: request.principal?.userId,
    method: request.method,
    route: request.is404 ? undefined : request.routeOptions.url,
    path: request.url.split('?')[0],
    status: reply.statusCode,
    durationMs: Math.round(reply.elapsedTime * 100) / 100,
  }
  if (closedBy !== undefined) line.closedBy = closedBy
  request.log.info(line, 'request completed')
}

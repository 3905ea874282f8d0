// Request-scoped plumbing: request ids (API.md §0), content negotiation (406,
// through @fastify/accepts),
// JSON body parsing (400/415), the shutdown gate (503) and the one log line per request.
import { randomUUID } from 'node:crypto'
import type { FastifyInstance, FastifyRequest, RawRequestDefaultExpression } from 'fastify'
import { ApiError, serviceUnavailable } from '../errors.ts'

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/

/** Reuses a well-formed client X-Request-Id, otherwise makes one. */
export function requestIdFor(raw: RawRequestDefaultExpression): string {
  const header = raw.headers['x-request-id']
  return typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID()
}

export function registerLifecycle(app: FastifyInstance, state: { isShuttingDown(): boolean }): void {
  // JSON bodies: an empty body is "no body" (schemas decide whether one is required),
  // anything unparseable is 400 MALFORMED_JSON. merge-patch+json is JSON too.
  // Only JSON bodies are accepted: Fastify's text/plain parser goes, so such bodies get 415.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser(
    ['application/json', 'application/merge-patch+json'],
    { parseAs: 'string' },
    (_request, body, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8')
      if (text.trim() === '') return done(null, undefined)
      try {
        done(
          null,
          JSON.parse(text, (key, value) => {
            // Prototype pollution through "__proto__"/"constructor" keys is refused outright.
            if (
              key === '__proto__' ||
              (key === 'constructor' && value && typeof value === 'object' && 'prototype' in value)
            ) {
              throw new SyntaxError('forbidden key')
            }
            return value
          }),
        )
      } catch {
        done(new ApiError('MALFORMED_JSON', 'Request body is not valid JSON'), undefined)
      }
    },
  )

  app.addHook('onRequest', async (request, reply) => {
    reply.header('x-request-id', request.id)
    if (state.isShuttingDown()) {
      reply.header('connection', 'close')
      throw serviceUnavailable('The service is shutting down; retry on another instance', 5)
    }
    if (request.is404) return
    const config = request.routeOptions.config
    if (config.public === undefined && config.scope === undefined) return // not one of ours (Swagger UI assets)
    const produces = config.produces ?? 'application/json'
    if (request.headers.accept !== undefined && request.accepts().type([produces]) === false) {
      throw new ApiError(
        'NOT_ACCEPTABLE',
        `This endpoint produces ${produces}; the Accept header excludes it`,
      )
    }
  })

  app.addHook('onResponse', async (request: FastifyRequest, reply) => {
    request.log.info(
      {
        userId: request.principal?.userId,
        method: request.method,
        route: request.is404 ? undefined : request.routeOptions.url,
        path: request.url.split('?')[0],
        status: reply.statusCode,
        durationMs: Math.round(reply.elapsedTime * 100) / 100,
      },
      'request completed',
    )
  })
}

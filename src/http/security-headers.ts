// Security headers on every response (API.md §5), decided by helmet and set
// from a table built once. helmet's middleware computes the same static headers
// for every request and sets each through Node's validating setHeader
// (@fastify/helmet 13 even rebuilt the middleware per request); with no CSP
// nonces configured nothing in them varies per request, so they are captured
// once at start and copied onto each reply (5 % of a GET's CPU before).
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyInstance } from 'fastify'
import helmet, { type HelmetOptions } from 'helmet'

/** The headers helmet sets for these options, read by running it once against a recording response. */
export function helmetHeaders(options: Readonly<HelmetOptions>): Record<string, string> {
  const headers: Record<string, string> = {}
  const recorder = {
    setHeader(name: string, value: string | number | readonly string[]) {
      headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : String(value)
    },
    removeHeader(name: string) {
      delete headers[name.toLowerCase()]
    },
  }
  let failure: unknown
  helmet(options)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    failure = error
  })
  if (failure) throw failure instanceof Error ? failure : new Error(String(failure))
  return headers
}

export function registerSecurityHeaders(app: FastifyInstance, options: Readonly<HelmetOptions>): void {
  const headers = helmetHeaders(options)
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(headers)
    done()
  })
}

/** The security headers of every API response (API.md §5): nothing may be loaded, framed or posted. */
export const API_SECURITY = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'none'"],
      frameAncestors: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
    },
  },
  hsts: { maxAge: 31_536_000, includeSubDomains: true },
} as const

/** API_SECURITY's headers, for answers written outside Fastify (src/http/client-errors.ts). */
export const API_SECURITY_HEADERS: Readonly<Record<string, string>> = helmetHeaders(API_SECURITY)

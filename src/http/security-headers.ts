// Security headers on every response (API.md §5) through helmet, built once.
// @fastify/helmet 13 calls helmet(options) inside its onRequest hook, so every
// request rebuilt the middleware and re-parsed the CSP directives (≈4% of the
// service's CPU on GET /v1/tasks/{id}); the headers are the same either way.
import type { FastifyInstance } from 'fastify'
import helmet, { type HelmetOptions } from 'helmet'

export function registerSecurityHeaders(app: FastifyInstance, options: Readonly<HelmetOptions>): void {
  const apply = helmet(options)
  app.addHook('onRequest', (request, reply, done) => {
    apply(request.raw, reply.raw, (error?: unknown) => done(error instanceof Error ? error : undefined))
  })
}

// The OpenAPI 3.1 document, generated from the route schemas, served at
// /openapi.json; interactive docs at /docs from the bundled Swagger UI (no CDN).
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifyInstance } from 'fastify'
import { documentHeaders } from './openapi-headers.ts'

const DOCS_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'"

/**
 * A stable operationId for every operation (client generators need one): method + path words,
 * `{id}` as `ById` — GET /v1/tasks/{id} → getTasksById, POST /v1/tasks/{id}/restore → postTasksByIdRestore.
 */
export function operationIdOf(method: string | string[], url: string): string {
  const verb = (Array.isArray(method) ? method[0]! : method).toLowerCase()
  const words = url
    .split('/')
    .filter((part) => part !== '' && part !== 'v1')
    .map((part) => (part.startsWith('{') || part.startsWith(':') ? `by-${part.replace(/[{}:]/g, '')}` : part))
    .flatMap((part) => part.split(/[^A-Za-z0-9]+/))
    .filter((word) => word !== '')
  return verb + words.map((w) => w[0]!.toUpperCase() + w.slice(1)).join('')
}

export async function registerOpenApi(app: FastifyInstance, version: string): Promise<void> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Task Tracker API',
        version,
        description:
          'Tasks with owners, authentication, conditional requests and idempotent creation. Errors always have the body `{ "error": { "code", "message", "details"?, "requestId" } }`. Every response carries `X-Request-Id`. Requests the HTTP parser cannot take are answered in that body too, then the connection is closed: 400 `MALFORMED_REQUEST` (not well-formed HTTP/1.1, or CONNECT; also an HTTP/1.1 request without one Host header), 408 `REQUEST_TIMEOUT`, 417 `EXPECTATION_FAILED` (an Expect other than 100-continue), 431 `HEADERS_TOO_LARGE`. A request with more than one `Authorization` header is 400 `MALFORMED_REQUEST` with `WWW-Authenticate: Bearer error="invalid_request"` (which one counts would be ambiguous). Rate-limited responses carry `RateLimit-Policy` and `RateLimit` (IETF draft); 429s carry `Retry-After`.',
      },
      servers: [],
      components: {
        securitySchemes: {
          bearerAuth: {
            type: 'http',
            scheme: 'bearer',
            description: 'Access token (JWT) from /v1/auth/login, or a personal API token (tt_…)',
          },
        },
      },
      security: [{ bearerAuth: [] }],
      tags: [
        { name: 'auth', description: 'Accounts and tokens' },
        { name: 'tasks', description: 'Tasks' },
        { name: 'operations', description: 'Health, readiness, metrics' },
        { name: 'api-tokens', description: 'Personal API tokens (tt_…)' },
        { name: 'webhooks', description: 'Webhook endpoints and their deliveries' },
        { name: 'events', description: 'Live event stream (SSE)' },
        { name: 'admin', description: 'Administration (admins only)' },
      ],
    },
    transform: ({ schema, url, route }) => ({
      url,
      schema:
        schema && !('operationId' in schema)
          ? { ...schema, operationId: operationIdOf(route.method, url) }
          : schema,
    }),
    transformObject: (documentObject) =>
      documentHeaders(
        'openapiObject' in documentObject ? documentObject.openapiObject : documentObject.swaggerObject,
      ),
    refResolver: { buildLocalReference: (json, _baseUri, _fragment, i) => String(json.$id ?? `def-${i}`) },
  })

  await app.register(async (docs) => {
    // Swagger UI's own routes are public and unthrottled, and get a CSP that lets its bundled assets load.
    docs.addHook('onRoute', (route) => {
      route.config = { ...(route.config ?? {}), public: true, rateLimitPolicy: 'none', produces: false }
    })
    docs.addHook('onSend', async (_request, reply, payload) => {
      reply.header('content-security-policy', DOCS_CSP)
      return payload
    })
    await docs.register(swaggerUi, {
      routePrefix: '/docs',
      staticCSP: false,
      uiConfig: { deepLinking: true },
    })
  })

  app.get(
    '/openapi.json',
    { config: { public: true, rateLimitPolicy: 'none' }, schema: { hide: true } },
    async (_request, reply) => reply.header('cache-control', 'no-cache').send(app.swagger()),
  )
}

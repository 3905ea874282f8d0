// Unknown routes: 404 NOT_FOUND, or 405 METHOD_NOT_ALLOWED with `Allow` when
// the path exists under other methods. Fastify answers both with 404, so the
// routes are mirrored into a second find-my-way router that can be asked "which
// methods does this path have?".
import type { FastifyInstance, HTTPMethods } from 'fastify'
import findMyWay, { type HTTPMethod } from 'find-my-way'
import { ApiError } from '../errors.ts'

const METHODS: HTTPMethods[] = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS']

export function registerNotFound(app: FastifyInstance): void {
  const router = findMyWay({ ignoreTrailingSlash: false })
  const noop = () => {}
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method]
    for (const method of methods) {
      if (!METHODS.includes(method as HTTPMethods) || route.url.includes('*')) continue
      try {
        router.on(method as HTTPMethod, route.url, noop)
      } catch {
        // The same method and path registered twice (HEAD mirrors GET): already known.
      }
    }
  })
  app.setNotFoundHandler((request) => {
    const path = request.url.split('?')[0] ?? '/'
    const allowed = METHODS.filter((m) => m !== 'OPTIONS' && router.find(m as HTTPMethod, path) !== null)
    if (allowed.length > 0) {
      throw new ApiError('METHOD_NOT_ALLOWED', `Method ${request.method} is not allowed on this path`, {
        headers: { allow: allowed.join(', ') },
      })
    }
    throw new ApiError('NOT_FOUND', 'Route not found')
  })
}

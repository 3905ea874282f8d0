// HTTP for the live event stream: GET /v1/events as text/event-stream (API.md §4).
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply } from 'fastify'
import { ApiError, validationFailed } from '../errors.ts'
import { logCompletion } from '../http/lifecycle.ts'
import { errorResponses } from '../http/schemas.ts'
import { canSeeEvent } from '../webhooks/policy.ts'
import { currentPosition, type EventPosition, positionAfterEvent } from './repository.ts'
import type { EventStreams } from './stream.ts'

const EVENT_ID = /^\d{1,15}$/
/** Open streams per user and instance; more is almost certainly a client reconnect bug. */
export const MAX_STREAMS_PER_USER = 10

/** The shortest time between two checks of an open stream's credential (CREDENTIAL_RECHECK_MS may be 0). */
const MIN_RECHECK_MS = 1000

export function eventRoutes(deps: { streams: EventStreams; credentialRecheckMs: number }) {
  return async function register(app: FastifyInstance): Promise<void> {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()
    r.get(
      '/v1/events',
      {
        config: { scope: 'tasks:read', produces: 'text/event-stream; charset=utf-8' },
        schema: {
          tags: ['events'],
          summary: 'Live task events (Server-Sent Events)',
          description:
            'A `text/event-stream` of task.created, task.updated, task.deleted and task.restored events, each with `id:` and `event:` (the type) and `data:` the same JSON body webhooks receive. Reconnect with `Last-Event-ID` (header, or `lastEventId` query parameter for clients that cannot set headers) to replay what was missed within the retention window. Comment lines are heartbeats. Streams end on server shutdown, and once their credential is no longer valid (expired, revoked, its session ended; checked every CREDENTIAL_RECHECK_MS, not more often than once a second); reconnect with a valid token and Last-Event-ID.',
          querystring: Type.Object(
            { lastEventId: Type.Optional(Type.String({ maxLength: 40, description: 'As Last-Event-ID' })) },
            { additionalProperties: false },
          ),
          headers: Type.Object({
            'last-event-id': Type.Optional(
              Type.String({ maxLength: 40, description: 'The last id received' }),
            ),
          }),
          response: {
            200: {
              description: 'A stream of events (text/event-stream)',
              content: { 'text/event-stream': { schema: Type.String() } },
            },
            ...errorResponses(401, 403, 422, 429),
          },
        },
      },
      async (request, reply) => {
        const principal = request.principal!
        if (!canSeeEvent(principal)) throw new ApiError('FORBIDDEN', 'You may not read events')
        if (deps.streams.openFor(principal.userId) >= MAX_STREAMS_PER_USER)
          throw new ApiError('RATE_LIMITED', `At most ${MAX_STREAMS_PER_USER} open event streams per user`, {
            headers: { 'retry-after': '10' },
          })
        const header = request.headers['last-event-id']
        const raw = header ?? request.query.lastEventId
        const field = header !== undefined ? 'last-event-id' : 'lastEventId'
        let from: EventPosition
        const { db, engine } = app.database
        if (raw === undefined || raw.trim() === '') from = await currentPosition(db, engine)
        else if (!EVENT_ID.test(raw.trim()))
          throw validationFailed([{ field, message: 'must be an event id received from this stream' }])
        else from = await positionAfterEvent(db, engine, Number(raw.trim()))
        const stream = deps.streams.open(from, principal.userId, {
          everyMs: Math.max(deps.credentialRecheckMs, MIN_RECHECK_MS),
          stillAllowed: async () => {
            const now = await app.recheckPrincipal(request)
            return (
              now !== undefined &&
              now.userId === principal.userId &&
              canSeeEvent(now) &&
              now.scopes.has('tasks:read')
            )
          },
        })
        reply.raw.on('close', () => {
          stream.destroy()
          // The client went away: the response never finishes, so no onResponse hook writes its
          // log line or counts it. Done here, as they would have (a stream the server ends
          // finishes, and the hooks see it).
          if (!reply.raw.writableFinished) {
            logCompletion(request, reply, 'client')
            app.observeResponse?.(request, reply)
          }
        })
        // The stream is piped as is; the 200 schema only documents the media type. @fastify/compress
        // leaves text/event-stream alone (its default compressibleTypes excludes it), so no encoder
        // buffers events; x-accel-buffering asks reverse proxies not to buffer either.
        return (reply as FastifyReply)
          .code(200)
          .header('content-type', 'text/event-stream; charset=utf-8')
          .header('cache-control', 'no-store')
          .header('x-accel-buffering', 'no')
          .send(stream)
      },
    )
  }
}

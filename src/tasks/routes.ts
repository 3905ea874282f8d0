// HTTP for tasks: parse, pick status codes and headers, call the service.
import { hash } from 'node:crypto'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ifMatchSatisfied, ifNoneMatchHits } from '../conditional.ts'
import { preconditionFailed } from '../errors.ts'
import { errorResponses, NoContent } from '../http/schemas.ts'
import type { IdempotencyService } from '../idempotency/service.ts'
import { requestFingerprint } from '../idempotency/service.ts'
import { encodeCursor, type ListPlan, parseListQuery } from './list-query.ts'
import type { PageForm } from './list-repository.ts'
import { type Task, taskEtag } from './model.ts'
import {
  ConditionalHeaders,
  CreateTaskBody,
  IdempotencyHeaders,
  ListTasksQuery,
  PatchTaskBody,
  TaskIdParams,
  TaskListSchema,
  TaskSchema,
} from './schemas.ts'
import type { TaskService } from './service.ts'

const TAG = ['tasks']
/** Reads may be cached by the client but must be revalidated (ETag); never by shared caches. */
const REVALIDATE = 'private, no-cache'
const JSON_UTF8 = 'application/json; charset=utf-8'

function principalOf(request: FastifyRequest) {
  // enforceAccess guarantees a principal on every non-public route.
  return request.principal!
}

/**
 * Task bodies are written with JSON.stringify, not the response schema's compiled serializer
 * (fast-json-stringify): V8's JSON.stringify writes these plain objects in one flat string, the
 * compiled serializer concatenates a piece per field, which then has to be flattened to write.
 * A listing's body took 22 µs serialized and hashed that way against 16 µs (bench data, 20 tasks;
 * listings hashed their body for the ETag then, see listEtag), and its pieces were a sixth of the
 * bytes a PostgreSQL listing allocated (V8's sampling heap profiler, under load). The response
 * schemas stay as the OpenAPI document's description of these bodies. What keeps the bodies to
 * them: a Task is built only by taskFromValues (rows), TaskService.create (the new task) and
 * changedTask (a copy with the change applied), and test/tasks.test.ts checks that every task
 * route writes the text the schema's serializer would.
 */
function sendTask(reply: FastifyReply, task: Task, status = 200) {
  return reply
    .code(status)
    .header('etag', taskEtag(task))
    .header('cache-control', REVALIDATE)
    .type(JSON_UTF8)
    .send(JSON.stringify(task))
}

/**
 * A listing's ETag: a hash of what its body is made of, not of the body. Every change to a task
 * (an edit, a delete, a restore) bumps its version, so each listed task's id and version, in
 * order, with the page fields (limit, offset, total, next cursor) name one body: a task that
 * changes, joins, leaves or moves on the page, or a new total, gives a new tag. It hashes about
 * 1 KB for a page of 20 where the body is 9 KB: under list load (SQLite, 100k tasks, --cpu-prof)
 * the hash took 5.1% of the samples and takes 1.9% with building the string. Like a task's own
 * "v<version>" tag, it does not change when a release changes how a task is written; and it is
 * weak, as a tag not computed from the bytes sent must be.
 */
function listEtag(
  items: readonly Pick<Task, 'id' | 'version'>[],
  page: { limit: number; offset: number; total: number; nextCursor: string | null },
): string {
  let parts = `${page.limit}|${page.offset}|${page.total}|${page.nextCursor ?? ''}`
  for (const item of items) parts += `|${item.id}.${item.version}`
  return `W/"${hash('sha1', parts, 'base64url')}"`
}

/** A listing as GET /v1/tasks sends it. */
interface SentListing {
  etag: string
  /** The body: text as made, bytes once kept (see listingOf). */
  body: string | Buffer
  /** The Link header (rel="next"), when there is a next page. */
  link: string | undefined
}

const utf8 = new TextEncoder()

/**
 * How GET /v1/tasks makes a page into what it sends; a function of the plan and the page alone.
 * A listing is sent as text: Node writes it in one piece with the head. A search kept for the
 * next time (TaskService.listAs) is kept as its UTF-8 bytes, so a hit is not encoded again, in
 * memory of its own (TextEncoder), not with Buffer.from: a small Buffer is a slice of a shared
 * pool block (64 KiB on Node 24; Buffer.poolSize), and a kept one would hold the whole block.
 */
const listingOf = (plan: ListPlan): PageForm<SentListing> => ({
  kept: 'v1-json',
  make(page) {
    const nextCursor = page.next ? encodeCursor(plan, page.next) : null
    const pageFields = { limit: plan.limit, offset: plan.offset, total: page.total, nextCursor }
    return {
      etag: listEtag(page.items, pageFields),
      body: JSON.stringify({ items: page.items, page: pageFields }),
      link: nextCursor ? `</v1/tasks?cursor=${nextCursor}&limit=${plan.limit}>; rel="next"` : undefined,
    }
  },
  keep(made) {
    const bytes = typeof made.body === 'string' ? utf8.encode(made.body) : made.body
    return Object.freeze({ ...made, body: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) })
  },
})

export function taskRoutes(deps: { tasks: TaskService; idempotency: IdempotencyService }) {
  const { tasks, idempotency } = deps
  return async function register(app: FastifyInstance): Promise<void> {
    const r = app.withTypeProvider<TypeBoxTypeProvider>()

    r.post(
      '/v1/tasks',
      {
        config: { scope: 'tasks:write' },
        schema: {
          tags: TAG,
          summary: 'Create a task',
          description:
            'Creates a task owned by the caller. With `Idempotency-Key`, a retry with the same key and body within 24 h replays the first response (`Idempotency-Replayed: true`); the same key with another body is 422 IDEMPOTENCY_KEY_REUSED; while the first is in flight, 409 IDEMPOTENCY_IN_PROGRESS. Keys are per user.',
          headers: IdempotencyHeaders,
          body: CreateTaskBody,
          response: { 201: Type.Ref(TaskSchema), ...errorResponses(400, 401, 403, 409, 413, 415, 422) },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request)
        const key = request.headers['idempotency-key']
        if (key === undefined) {
          const task = await tasks.create(principal, request.body)
          return sendTask(reply.header('location', `/v1/tasks/${task.id}`), task, 201)
        }
        const outcome = await idempotency.begin(principal.userId, key, requestFingerprint(request.body))
        if (outcome.kind === 'replay') {
          const { response } = outcome
          const task = JSON.parse(response.body) as Task
          if (response.location) reply.header('location', response.location)
          return sendTask(reply.header('idempotency-replayed', 'true'), task, response.statusCode)
        }
        try {
          const task = await tasks.create(principal, request.body, (trx, created) =>
            outcome.complete(trx, {
              statusCode: 201,
              body: JSON.stringify(created),
              location: `/v1/tasks/${created.id}`,
            }),
          )
          return sendTask(reply.header('location', `/v1/tasks/${task.id}`), task, 201)
        } catch (error) {
          await outcome.release()
          throw error
        }
      },
    )

    r.get(
      '/v1/tasks',
      {
        config: { scope: 'tasks:read' },
        preValidation: async (request) => {
          unmangleOffsets(request.query, ['dueBefore', 'dueAfter'])
        },
        schema: {
          tags: TAG,
          summary: 'List tasks',
          description:
            'Filters combine. `page.total` counts every match. `page.nextCursor` (and a `Link: rel="next"` header) continues with the same filters and sort; a cursor sent with different filters or sort is 422. Relevance-ordered searches (`q` without `sort`) page by position. Answers `If-None-Match` with 304.',
          querystring: ListTasksQuery,
          response: {
            200: TaskListSchema,
            304: Type.Null({ description: 'Not modified (If-None-Match matched the list ETag)' }),
            ...errorResponses(401, 403, 422),
          },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request)
        const plan = parseListQuery(request.query, principal.userId)
        const sent = await tasks.listAs(principal, plan, listingOf(plan))
        if (sent.link) reply.header('link', sent.link)
        reply.header('etag', sent.etag).header('cache-control', REVALIDATE)
        const inm = request.headers['if-none-match']
        if (inm !== undefined && ifNoneMatchHits(inm, sent.etag))
          return (reply as FastifyReply).code(304).send()
        return (reply as FastifyReply).type(JSON_UTF8).send(sent.body)
      },
    )

    r.get(
      '/v1/tasks/:id',
      {
        config: { scope: 'tasks:read' },
        schema: {
          tags: TAG,
          summary: 'Get a task',
          description:
            'Answers with an `ETag`; `If-None-Match` with the current tag gives 304, and an `If-Match` without it 412. Deleted tasks are 404.',
          params: TaskIdParams,
          response: {
            200: Type.Ref(TaskSchema),
            304: Type.Null({ description: 'Not modified' }),
            ...errorResponses(401, 403, 404, 412),
          },
        },
      },
      async (request, reply) => {
        const task = await tasks.get(principalOf(request), request.params.id)
        // RFC 9110 §13.2.2: If-Match is evaluated first, on reads too (a client may ask for the
        // version it holds and no other); when it does not match, 412.
        const ifMatch = request.headers['if-match']
        if (ifMatch !== undefined && !ifMatchSatisfied(ifMatch, taskEtag(task))) throw preconditionFailed()
        const inm = request.headers['if-none-match']
        if (inm !== undefined && ifNoneMatchHits(inm, taskEtag(task))) {
          return (reply as FastifyReply)
            .code(304)
            .header('etag', taskEtag(task))
            .header('cache-control', REVALIDATE)
            .send()
        }
        return sendTask(reply, task)
      },
    )

    r.patch(
      '/v1/tasks/:id',
      {
        config: { scope: 'tasks:write' },
        schema: {
          tags: TAG,
          summary: 'Change a task',
          description:
            'JSON merge patch (`application/json` or `application/merge-patch+json`). `If-Match` with a stale ETag is 412 and nothing changes. `{}` (or a patch that changes nothing) is a no-op: 200 with the version unchanged. Only the owner or an admin may change a task (403).',
          params: TaskIdParams,
          headers: ConditionalHeaders,
          body: PatchTaskBody,
          response: {
            200: Type.Ref(TaskSchema),
            ...errorResponses(400, 401, 403, 404, 412, 413, 415, 422, 428),
          },
        },
      },
      async (request, reply) => {
        const task = await tasks.update(principalOf(request), request.params.id, request.body, {
          ifMatch: request.headers['if-match'],
          ifNoneMatch: request.headers['if-none-match'],
        })
        return sendTask(reply, task)
      },
    )

    r.delete(
      '/v1/tasks/:id',
      {
        config: { scope: 'tasks:write' },
        schema: {
          tags: TAG,
          summary: 'Delete a task (soft)',
          description:
            'Sets `deletedAt`; the task disappears from reads except through `deleted=include|only`. A second DELETE is 404. `If-Match` is honoured as for PATCH.',
          params: TaskIdParams,
          headers: ConditionalHeaders,
          response: { 204: NoContent, ...errorResponses(400, 401, 403, 404, 412, 415, 422, 428) },
        },
      },
      async (request, reply) => {
        await tasks.softDelete(principalOf(request), request.params.id, {
          ifMatch: request.headers['if-match'],
          ifNoneMatch: request.headers['if-none-match'],
        })
        return reply.code(204).send(null)
      },
    )

    r.post(
      '/v1/tasks/:id/restore',
      {
        config: { scope: 'tasks:write' },
        schema: {
          tags: TAG,
          summary: 'Restore a deleted task',
          description:
            'Clears `deletedAt`. Restoring a task that is not deleted changes nothing and answers 200 with it. Only the owner or an admin may restore.',
          params: TaskIdParams,
          headers: ConditionalHeaders,
          response: { 200: Type.Ref(TaskSchema), ...errorResponses(400, 401, 403, 404, 412, 415, 422) },
        },
      },
      async (request, reply) => {
        const task = await tasks.restore(principalOf(request), request.params.id, {
          ifMatch: request.headers['if-match'],
          ifNoneMatch: request.headers['if-none-match'],
        })
        return sendTask(reply, task)
      },
    )
  }
}

/**
 * An unencoded `+01:00` offset arrives as ` 01:00` (a query-string `+` means a space); a space is
 * never valid there, so it is read as the `+` the client meant instead of refusing the time.
 */
function unmangleOffsets(query: unknown, names: string[]): void {
  const params = query as Record<string, unknown>
  for (const name of names) {
    const value = params[name]
    if (typeof value === 'string') params[name] = value.replace(/(\d) (\d{2}:\d{2})$/, '$1+$2')
  }
}

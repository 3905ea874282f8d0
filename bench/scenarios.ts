// What each scenario sends. Request lists are built fresh per run; closures
// rotate over ids, statuses, cursors and words so the load is not one hot row.
//
// Conditional PATCH: every connection takes one of the bench user's own tasks
// from a pool with its current ETag, sends If-Match with it, and returns the
// task with the ETag of the answer. No two requests in flight touch the same
// task, so a 412 is a real failure and counts as an error. Before every load of
// a scenario that PATCHes (warm-ups and slices alike) the pool is topped up to two
// tasks per connection (at least 64) with own tasks it never held, each read
// for its ETag (GET /v1/tasks/{id}; see topUpPatchPool). A task that leaves the
// pool (its PATCH failed, or was in flight when a load stopped) never returns.
// Should failures empty the pool, a connection sends a PATCH that cannot
// succeed and changes nothing (If-Match with version 0, which no task has), an
// error the table counts, rather than stopping the run.
import type { Request, RequestData } from 'autocannon'
import { prng } from './data.ts'

export interface Fixtures {
  ids: string[]
  statuses: readonly string[]
  cursors: string[]
  words: string[]
  /** Own tasks with their current ETag, topped up before every load of a scenario that PATCHes. */
  patchPool: { id: string; etag: string }[]
  /** Every task the pool ever held: one not in it now is not used again. */
  patchPooled: Set<string>
  /** An own task to send the doomed PATCH to when the pool is empty. */
  patchSpareId?: string
}

/** An ETag no task has (versions start at 1): the PATCH sent when the pool is empty gets a 412. */
export const NO_VERSION = '"v0"'

type Kind = 'get' | 'list' | 'deep' | 'search' | 'create' | 'patch'

function rotate<T>(list: readonly T[]): () => T {
  let i = 0
  return () => list[i++ % list.length] as T
}

const JSON_TYPE = 'application/json'
let createCounter = 0

function createBody(): string {
  createCounter++
  return JSON.stringify({
    title: `Bench task ${createCounter}: review the invoice export`,
    description: 'Created by the benchmark harness to measure the create path.',
    priority: ['low', 'normal', 'high', 'urgent'][createCounter % 4],
    dueAt: new Date(Date.now() + 7 * 86_400_000).toISOString(),
    tags: ['bench', createCounter % 2 === 0 ? 'backend' : 'frontend'],
  })
}

/** Builds the request for one kind; returns the pool entry a PATCH took, if any. */
function build(kind: Kind, req: RequestData, f: Fixtures, next: Record<string, () => string>) {
  const headers: Record<string, string> = { ...req.headers }
  switch (kind) {
    case 'get':
      return { ...req, method: 'GET', path: `/v1/tasks/${next.id?.()}`, headers, body: '' }
    case 'list':
      return { ...req, method: 'GET', path: `/v1/tasks?status=${next.status?.()}`, headers, body: '' }
    case 'deep':
      return { ...req, method: 'GET', path: `/v1/tasks?cursor=${next.cursor?.()}`, headers, body: '' }
    case 'search':
      return { ...req, method: 'GET', path: `/v1/tasks?q=${next.word?.()}`, headers, body: '' }
    case 'create':
      headers['content-type'] = JSON_TYPE
      return { ...req, method: 'POST', path: '/v1/tasks', headers, body: createBody() }
    case 'patch': {
      const entry = f.patchPool.shift()
      headers['content-type'] = JSON_TYPE
      headers['if-match'] = entry?.etag ?? NO_VERSION
      createCounter++
      const body = JSON.stringify({ title: `Edited by the bench (${createCounter})`, status: 'doing' })
      const id = entry?.id ?? f.patchSpareId ?? f.ids[0]
      return { ...req, method: 'PATCH', path: `/v1/tasks/${id}`, headers, body, entry }
    }
  }
}

function header(headers: Record<string, string | string[]>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers))
    if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v
  return undefined
}

/** A request list that sends `pick()`'s kind each time. */
function requestsOf(f: Fixtures, pick: () => Kind): Request[] {
  const next = {
    id: rotate(f.ids),
    status: rotate(f.statuses),
    cursor: rotate(f.cursors), // never empty: the run stops when walking pages finds no cursor
    word: rotate(f.words),
  }
  return [
    {
      setupRequest(req, context) {
        const kind = pick()
        const built = build(kind, req, f, next)
        context.entry = 'entry' in built ? built.entry : undefined
        const { entry: _entry, ...request } = built as typeof built & { entry?: unknown }
        return request
      },
      onResponse(status, _body, context, headers) {
        const entry = context.entry as { id: string; etag: string } | undefined
        if (!entry) return
        const etag = header(headers, 'etag')
        // A failed PATCH (counted as an error) leaves the task's version unknown: it leaves the pool.
        if (status === 200 && etag) f.patchPool.push({ id: entry.id, etag })
      },
    },
  ]
}

export const serviceScenarios: Record<
  string,
  {
    title: string
    /** Sends PATCHes: the pool is topped up before each of its loads. */
    patches: boolean
    kinds: (f: Fixtures) => Request[]
  }
> = {
  get: { title: 'get one task by id', patches: false, kinds: (f) => requestsOf(f, () => 'get') },
  list: {
    title: 'list 20, status filter + total',
    patches: false,
    kinds: (f) => requestsOf(f, () => 'list'),
  },
  deep: { title: 'list a deep page (cursor)', patches: false, kinds: (f) => requestsOf(f, () => 'deep') },
  search: { title: 'full-text search (q)', patches: false, kinds: (f) => requestsOf(f, () => 'search') },
  create: { title: 'create', patches: false, kinds: (f) => requestsOf(f, () => 'create') },
  patch: { title: 'PATCH own task, If-Match', patches: true, kinds: (f) => requestsOf(f, () => 'patch') },
  mix: {
    title: 'mix 80% reads / 20% writes',
    patches: true,
    kinds: (f) => {
      const r = prng(99)
      return requestsOf(f, () => {
        const x = r()
        if (x < 0.45) return 'get'
        if (x < 0.7) return 'list'
        if (x < 0.75) return 'deep'
        if (x < 0.8) return 'search'
        if (x < 0.9) return 'create'
        return 'patch'
      })
    },
  },
}

/** Floor requests: the same rotation over ids and statuses, against bench/floor.ts. */
export const floorScenarios: Record<
  string,
  { title: string; of: string; requests: (f: Fixtures) => Request[] }
> = {
  'floor-get': {
    title: 'floor: get by id (same SQL)',
    of: 'get',
    requests: (f) => {
      const id = rotate(f.ids)
      return [{ setupRequest: (req) => ({ ...req, path: `/tasks/${id()}` }) }]
    },
  },
  'floor-list': {
    title: 'floor: list (same SQL)',
    of: 'list',
    requests: (f) => {
      const status = rotate(f.statuses)
      return [{ setupRequest: (req) => ({ ...req, path: `/tasks?status=${status()}` }) }]
    },
  },
  'floor-naive': {
    title: 'naive floor: LIMIT 20 + COUNT(*)',
    of: 'list',
    requests: (f) => {
      const status = rotate(f.statuses)
      return [{ setupRequest: (req) => ({ ...req, path: `/naive?status=${status()}` }) }]
    },
  },
}

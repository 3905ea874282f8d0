// Turns GET /v1/tasks query parameters into a list plan (filters, sort, page
// position) and back into opaque cursors. Pure: unit-tested without a database.
import { type ErrorDetail, validationFailed } from '../errors.ts'
import { millisecondCeiling, normaliseTimestamp } from '../time.ts'
import type { Priority, Status } from './model.ts'
import { MAX_OFFSET, PRIORITIES, SORT_FIELDS, STATUSES } from './schemas.ts'

export type SortField = (typeof SORT_FIELDS)[number]
export interface SortKey {
  field: SortField
  descending: boolean
}

export type DeletedMode = 'exclude' | 'include' | 'only'

export interface TaskFilter {
  statuses?: Status[]
  priorities?: Priority[]
  ownerId?: string
  tag?: string
  dueBefore?: string
  dueAfter?: string
  q?: string
  deleted: DeletedMode
}

/** Where the next page starts: after a row's sort values (keyset) or at an offset (relevance order). */
export type Position = { after: unknown[]; id: string } | { offset: number }

export interface ListPlan {
  filter: TaskFilter
  /** Null means relevance order (a `q` search without `sort`). */
  sort: SortKey[] | null
  limit: number
  offset: number
  position?: Position
}

export interface RawListQuery {
  limit?: number
  offset?: number
  cursor?: string
  status?: string
  priority?: string
  ownerId?: string
  tag?: string
  dueBefore?: string
  dueAfter?: string
  q?: string
  sort?: string
  deleted?: DeletedMode
}

export const DEFAULT_LIMIT = 20
export const MAX_LIMIT = 100
export const DEFAULT_SORT: SortKey[] = [{ field: 'createdAt', descending: true }]
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i
const TAG = /^[a-z0-9_-]{1,40}$/

function parseList<T extends string>(
  raw: string,
  allowed: readonly T[],
  field: string,
  details: ErrorDetail[],
): T[] {
  const values = raw.split(',').map((v) => v.trim())
  const bad = values.filter((v) => !(allowed as readonly string[]).includes(v))
  if (bad.length > 0 || values.length === 0) {
    details.push({ field, message: `must be one or more of: ${allowed.join(', ')} (comma-separated)` })
    return []
  }
  return [...new Set(values)] as T[]
}

export function parseSort(raw: string, details: ErrorDetail[]): SortKey[] {
  const keys: SortKey[] = []
  for (const part of raw.split(',').map((p) => p.trim())) {
    const descending = part.startsWith('-')
    const field = (descending ? part.slice(1) : part) as SortField
    if (!SORT_FIELDS.includes(field)) {
      details.push({
        field: 'sort',
        message: `must be a comma-separated list of ${SORT_FIELDS.join(', ')}, each optionally prefixed with -`,
      })
      return []
    }
    if (keys.some((k) => k.field === field)) {
      details.push({ field: 'sort', message: `names ${field} more than once` })
      return []
    }
    keys.push({ field, descending })
  }
  return keys
}

function filterFromQuery(raw: RawListQuery, callerId: string, details: ErrorDetail[]): TaskFilter {
  const filter: TaskFilter = { deleted: raw.deleted ?? 'exclude' }
  if (raw.status !== undefined) filter.statuses = parseList(raw.status, STATUSES, 'status', details)
  if (raw.priority !== undefined) filter.priorities = parseList(raw.priority, PRIORITIES, 'priority', details)
  if (raw.ownerId !== undefined) {
    if (raw.ownerId === 'me') filter.ownerId = callerId
    else if (UUID.test(raw.ownerId)) filter.ownerId = raw.ownerId.toLowerCase()
    else details.push({ field: 'ownerId', message: 'must be a user id or "me"' })
  }
  if (raw.tag !== undefined) {
    const tag = raw.tag.trim().toLowerCase()
    if (TAG.test(tag)) filter.tag = tag
    else details.push({ field: 'tag', message: 'must be 1–40 characters of a-z, 0-9, _ or -' })
  }
  for (const name of ['dueBefore', 'dueAfter'] as const) {
    const value = raw[name]
    if (value === undefined) continue
    // Times are kept to the millisecond, and parsing drops finer digits. That is exact for
    // dueAfter (dueAt > 03.0009 is dueAt > 03.000 in milliseconds) but not for dueBefore, whose
    // bound is the next millisecond up: 03.000 is before 03.0009.
    const normalised = name === 'dueBefore' ? millisecondCeiling(value) : normaliseTimestamp(value)
    if (normalised === undefined)
      details.push({
        field: name,
        message: 'must be an RFC 3339 date-time with a time zone, in the years 0001–9999 (UTC)',
      })
    else filter[name] = normalised
  }
  if (raw.q !== undefined) {
    const q = raw.q.trim()
    if (q.length === 0) details.push({ field: 'q', message: 'must not be blank' })
    else filter.q = q
  }
  return filter
}

interface CursorPayload {
  v: 1
  f: TaskFilter
  s: string | null
  p: Position
}

export function encodeCursor(plan: Pick<ListPlan, 'filter' | 'sort'>, position: Position): string {
  const payload: CursorPayload = {
    v: 1,
    f: plan.filter,
    s: plan.sort ? formatSort(plan.sort) : null,
    p: position,
  }
  return Buffer.from(JSON.stringify(payload)).toString('base64url')
}

export function formatSort(sort: SortKey[]): string {
  return sort.map((k) => `${k.descending ? '-' : ''}${k.field}`).join(',')
}

function decodeCursor(cursor: string): CursorPayload | undefined {
  try {
    const payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as CursorPayload
    if (payload?.v !== 1 || !validFilter(payload.f)) return undefined
    if (payload.s !== null && typeof payload.s !== 'string') return undefined
    const p = payload.p as Record<string, unknown>
    const keyset = Array.isArray(p?.after) && typeof p.id === 'string' && UUID.test(p.id)
    // A relevance page's cursor holds an offset, bounded as the query parameter is (MAX_OFFSET).
    const offset =
      Number.isInteger(p?.offset) && (p.offset as number) >= 0 && (p.offset as number) <= MAX_OFFSET
    if (!keyset && !offset) return undefined
    return payload
  } catch {
    return undefined
  }
}

/**
 * Cursors are not signed, so a decoded filter is checked as strictly as query
 * parameters are: a hand-edited cursor must be a 422, never reach SQL as a bad value.
 */
function validFilter(f: unknown): f is TaskFilter {
  if (typeof f !== 'object' || f === null || Array.isArray(f)) return false
  const o = f as Record<string, unknown>
  const isIso = (v: unknown) => typeof v === 'string' && normaliseTimestamp(v) === v
  const listOf = (v: unknown, allowed: readonly string[]) =>
    Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && allowed.includes(x))
  const checks: Record<string, (v: unknown) => boolean> = {
    deleted: (v) => v === 'exclude' || v === 'include' || v === 'only',
    statuses: (v) => listOf(v, STATUSES),
    priorities: (v) => listOf(v, PRIORITIES),
    // As the query parameter is stored: lower case (PostgreSQL's counts compare ids as text).
    ownerId: (v) => typeof v === 'string' && UUID.test(v) && v === v.toLowerCase(),
    tag: (v) => typeof v === 'string' && TAG.test(v),
    dueBefore: isIso,
    dueAfter: isIso,
    q: (v) => typeof v === 'string' && v.trim().length > 0 && v.length <= 200,
  }
  if (!('deleted' in o)) return false
  return Object.entries(o).every(([k, v]) => checks[k]?.(v) ?? false)
}

/** The key values a keyset position holds for a sort, checked by type so each reaches SQL as its column's type. */
function validPosition(position: Position, sort: SortKey[] | null): boolean {
  if ('offset' in position) return true
  if (sort === null) return false
  const isIso = (v: unknown) => typeof v === 'string' && normaliseTimestamp(v) === v
  const expected: ((v: unknown) => boolean)[] = []
  for (const key of sort) {
    if (key.field === 'createdAt' || key.field === 'updatedAt') expected.push(isIso)
    else if (key.field === 'priority')
      expected.push((v) => Number.isInteger(v) && PRIORITIES[v as number] !== undefined)
    // A title as one can be stored: PostgreSQL text holds no NUL (it was a 500 there).
    else if (key.field === 'title')
      expected.push((v) => typeof v === 'string' && v.length <= 1000 && !v.includes('\u0000'))
    else
      expected.push(
        (v) => v === 0 || v === 1,
        (v) => v === null || isIso(v),
      )
  }
  const { after } = position
  return after.length === expected.length && expected.every((check, i) => check(after[i]))
}

const sameFilter = (a: TaskFilter, b: TaskFilter) =>
  JSON.stringify(canonical(a)) === JSON.stringify(canonical(b))
function canonical(f: TaskFilter): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(f)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => a.localeCompare(b)),
  )
}

/**
 * Builds the list plan. With a cursor, the cursor's filters and sort apply;
 * filters sent beside it must agree with it (a changed filter is a new listing).
 */
export function parseListQuery(raw: RawListQuery, callerId: string): ListPlan {
  const details: ErrorDetail[] = []
  const limit = Math.min(raw.limit ?? DEFAULT_LIMIT, MAX_LIMIT)
  const offset = raw.offset ?? 0
  const explicitFilter = filterFromQuery(raw, callerId, details)
  const explicitSort = raw.sort !== undefined ? parseSort(raw.sort, details) : undefined
  if (details.length > 0) throw validationFailed(details, 'Query parameters are invalid')

  if (raw.cursor !== undefined) {
    const payload = decodeCursor(raw.cursor)
    if (!payload)
      throw validationFailed(
        [{ field: 'cursor', message: 'is not a valid cursor' }],
        'Query parameters are invalid',
      )
    const cursorSort = payload.s === null ? null : parseSort(payload.s, details)
    if (details.length > 0 || !validPosition(payload.p, cursorSort))
      throw validationFailed(
        [{ field: 'cursor', message: 'is not a valid cursor' }],
        'Query parameters are invalid',
      )
    const filterGiven =
      Object.keys(canonical(explicitFilter)).some((k) => k !== 'deleted') || raw.deleted !== undefined
    if (
      (filterGiven && !sameFilter(explicitFilter, payload.f)) ||
      (explicitSort && formatSort(explicitSort) !== payload.s)
    ) {
      throw validationFailed(
        [
          {
            field: 'cursor',
            message: 'was issued for other filters or sort; drop the cursor to start a new listing',
          },
        ],
        'Query parameters are invalid',
      )
    }
    return { filter: payload.f, sort: cursorSort, limit, offset: 0, position: payload.p }
  }

  const sort = explicitSort ?? (explicitFilter.q !== undefined ? null : DEFAULT_SORT)
  return { filter: explicitFilter, sort, limit, offset }
}

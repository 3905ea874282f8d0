// The task as the domain sees it, and the pure rules that turn client input
// into a valid task change (trimming, tag normalisation, time normalisation).
import { type ErrorDetail, UNPAIRED_SURROGATE, validationFailed } from '../errors.ts'
import { normaliseTimestamp } from '../time.ts'
import type { PRIORITIES, STATUSES } from './schemas.ts'

export type Status = (typeof STATUSES)[number]
export type Priority = (typeof PRIORITIES)[number]

export interface Task {
  id: string
  title: string
  description: string
  status: Status
  priority: Priority
  dueAt: string | null
  tags: string[]
  ownerId: string
  createdAt: string
  updatedAt: string
  deletedAt: string | null
  version: number
}

export interface TaskFields {
  title: string
  description: string
  status: Status
  priority: Priority
  dueAt: string | null
  tags: string[]
}

export type TaskInput = Partial<{
  title: string
  description: string
  status: Status
  priority: Priority
  dueAt: string | null
  tags: string[]
}>

export const MAX_TAGS = 20
export const MAX_TITLE = 200
const TAG = /^[a-z0-9_-]{1,40}$/
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const CONTROL = /[\u0000-\u001F\u007F-\u009F]/
export function normaliseTags(tags: string[], details: ErrorDetail[]): string[] {
  const out: string[] = []
  tags.forEach((raw, i) => {
    const tag = raw.trim().toLowerCase()
    if (!TAG.test(tag))
      details.push({ field: `tags.${i}`, message: 'must be 1–40 characters of a-z, 0-9, _ or -' })
    else if (!out.includes(tag)) out.push(tag)
  })
  if (out.length > MAX_TAGS)
    details.push({ field: 'tags', message: `must have at most ${MAX_TAGS} distinct tags` })
  return out
}

/** Validates and normalises a create or patch body (already type-checked by the route schema). */
export function normaliseTaskInput(input: TaskInput): TaskInput {
  const details: ErrorDetail[] = []
  const out: TaskInput = {}
  if (input.title !== undefined) {
    const title = input.title.trim()
    if (title.length === 0) details.push({ field: 'title', message: 'must not be empty' })
    else if ([...title].length > MAX_TITLE)
      details.push({ field: 'title', message: `must be at most ${MAX_TITLE} characters` })
    else if (CONTROL.test(title))
      details.push({ field: 'title', message: 'must not contain control characters' })
    else if (!title.isWellFormed()) details.push({ field: 'title', message: UNPAIRED_SURROGATE })
    out.title = title
  }
  if (input.description !== undefined) {
    // PostgreSQL text cannot hold NUL; refused on every engine so both behave alike.
    if (input.description.includes('\u0000'))
      details.push({ field: 'description', message: 'must not contain NUL characters' })
    else if (!input.description.isWellFormed())
      details.push({ field: 'description', message: UNPAIRED_SURROGATE })
    out.description = input.description
  }
  if (input.status !== undefined) out.status = input.status
  if (input.priority !== undefined) out.priority = input.priority
  if (input.dueAt !== undefined) {
    if (input.dueAt === null) out.dueAt = null
    else {
      const due = normaliseTimestamp(input.dueAt)
      if (due === undefined)
        details.push({
          field: 'dueAt',
          message: 'must be an RFC 3339 date-time with a time zone, in the years 0001–9999 (UTC)',
        })
      out.dueAt = due ?? null
    }
  }
  if (input.tags !== undefined) out.tags = normaliseTags(input.tags, details)
  if (details.length > 0) throw validationFailed(details, 'Request body is invalid')
  return out
}

export function withDefaults(input: TaskInput): TaskFields {
  return {
    title: input.title ?? '',
    description: input.description ?? '',
    status: input.status ?? 'todo',
    priority: input.priority ?? 'normal',
    dueAt: input.dueAt ?? null,
    tags: input.tags ?? [],
  }
}

/** The fields of `patch` that differ from `task`; empty when the patch changes nothing. */
export function changedFields(task: Task, patch: TaskInput): TaskInput {
  const changes: TaskInput = {}
  if (patch.title !== undefined && patch.title !== task.title) changes.title = patch.title
  if (patch.description !== undefined && patch.description !== task.description)
    changes.description = patch.description
  if (patch.status !== undefined && patch.status !== task.status) changes.status = patch.status
  if (patch.priority !== undefined && patch.priority !== task.priority) changes.priority = patch.priority
  if (patch.dueAt !== undefined && patch.dueAt !== task.dueAt) changes.dueAt = patch.dueAt
  if (patch.tags !== undefined && JSON.stringify(patch.tags) !== JSON.stringify(task.tags))
    changes.tags = patch.tags
  return changes
}

/** Strong ETag of one task version. */
export function taskEtag(task: Pick<Task, 'version'>): string {
  return `"v${task.version}"`
}

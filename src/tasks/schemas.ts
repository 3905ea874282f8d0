// Route schemas for tasks: validation, serialization and the OpenAPI document in one.
import { Type } from '@sinclair/typebox'
import { Matching, Nullable, StringEnum } from '../http/schemas.ts'

export const STATUSES = ['todo', 'doing', 'done'] as const
/**
 * The largest `offset` a listing takes, as a query parameter or inside a cursor: past 2^53 an
 * offset is no longer an exact integer, and the engines refuse a float there (a 500).
 */
export const MAX_OFFSET = 1_000_000_000
export const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const
export const SORT_FIELDS = ['createdAt', 'updatedAt', 'dueAt', 'priority', 'title'] as const

const Status = StringEnum(STATUSES, { description: 'todo | doing | done' })
const Priority = StringEnum(PRIORITIES, { description: 'low < normal < high < urgent' })
const UUID_PATTERN = '[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}'
const commaList = (values: readonly string[]) => `^(${values.join('|')})(,(${values.join('|')}))*$`

const Title = Type.Unsafe<string>({
  type: 'string',
  maxLength: 1000,
  'x-trimmed-max-length': 200,
  allOf: [
    { pattern: '\\S', 'x-error': 'must not be empty' },
    // C0, DEL and C1 (U+0080–U+009F): Unicode's control characters (general category Cc).
    { pattern: '^[^\\u0000-\\u001F\\u007F-\\u009F]*$', 'x-error': 'must not contain control characters' },
  ],
  description: 'Trimmed; 1–200 characters; no control characters or unpaired UTF-16 surrogates',
})
const Description = Type.String({
  maxLength: 10_000,
  // PostgreSQL text cannot hold NUL; refused on every engine so both behave alike.
  pattern: '^[^\\u0000]*$',
  'x-error': 'must not contain NUL characters',
  description: 'At most 10,000 characters; no NUL or unpaired UTF-16 surrogates',
})
const DueAt = Nullable(Type.String({ format: 'date-time', description: 'RFC 3339; normalised to UTC' }))
const Tags = Type.Array(
  Type.String({
    pattern: '^\\s*[A-Za-z0-9_-]{1,40}\\s*$',
    'x-error': 'must be 1–40 characters of a-z, 0-9, _ or -',
  }),
  {
    maxItems: 100,
    'x-max-distinct': 20,
    description: 'At most 20 distinct tags; each trimmed and lower-cased, 1–40 of [a-z0-9_-]',
  },
)

export const TaskSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid', description: 'UUIDv7' }),
    title: Type.String(),
    description: Type.String(),
    status: Status,
    priority: Priority,
    dueAt: Nullable(Type.String({ format: 'date-time' })),
    tags: Type.Array(Type.String()),
    ownerId: Type.String({ format: 'uuid' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
    deletedAt: Nullable(Type.String({ format: 'date-time' })),
    version: Type.Integer({
      minimum: 1,
      description: 'Starts at 1, +1 on every change; the ETag is derived from it',
    }),
  },
  { $id: 'Task', title: 'Task' },
)

export const CreateTaskBody = Type.Object(
  {
    title: Title,
    description: Type.Optional(Description),
    status: Type.Optional(Status),
    priority: Type.Optional(Priority),
    dueAt: Type.Optional(DueAt),
    tags: Type.Optional(Tags),
  },
  { additionalProperties: false, description: 'Unknown and read-only fields are rejected with 422' },
)

export const PatchTaskBody = Type.Object(
  {
    title: Type.Optional(Title),
    description: Type.Optional(Description),
    status: Type.Optional(Status),
    priority: Type.Optional(Priority),
    dueAt: Type.Optional(DueAt),
    tags: Type.Optional(Tags),
  },
  {
    additionalProperties: false,
    description: 'JSON merge patch: any subset of fields; null clears dueAt; {} is a no-op',
  },
)

export const TaskIdParams = Type.Object({ id: Type.String({ description: 'Task id (UUIDv7)' }) })

export const ListTasksQuery = Type.Object(
  {
    limit: Type.Optional(
      Type.Integer({
        minimum: 1,
        default: 20,
        description: 'Default 20; values above 100 are capped to 100',
      }),
    ),
    offset: Type.Optional(
      Type.Integer({
        minimum: 0,
        maximum: MAX_OFFSET,
        default: 0,
        description: 'Ignored when cursor is given; cursors are the way to page deep lists',
      }),
    ),
    cursor: Type.Optional(
      Type.String({ maxLength: 4096, description: 'page.nextCursor of the previous page' }),
    ),
    status: Type.Optional(
      Matching(commaList(STATUSES), `must be one or more of: ${STATUSES.join(', ')} (comma-separated)`, {
        description: 'One status or a comma-separated list',
      }),
    ),
    priority: Type.Optional(
      Matching(commaList(PRIORITIES), `must be one or more of: ${PRIORITIES.join(', ')} (comma-separated)`, {
        description: 'One priority or a comma-separated list',
      }),
    ),
    ownerId: Type.Optional(
      Matching(`^(me|${UUID_PATTERN})$`, 'must be a user id or "me"', { description: 'A user id, or `me`' }),
    ),
    tag: Type.Optional(
      Matching('^\\s*[A-Za-z0-9_-]{1,40}\\s*$', 'must be 1–40 characters of a-z, 0-9, _ or -', {
        description: 'Tasks carrying this tag',
      }),
    ),
    dueBefore: Type.Optional(
      Type.String({ format: 'date-time', description: 'dueAt strictly before this time' }),
    ),
    dueAfter: Type.Optional(
      Type.String({ format: 'date-time', description: 'dueAt strictly after this time' }),
    ),
    q: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 200,
        description:
          'Full-text search over title and description: every word must match, the last one as a prefix. ' +
          'Without `sort`, best match first (BM25 on SQLite, ts_rank on PostgreSQL); equally ranked tasks ' +
          'keep creation order, and pages advance by position. Accents are ignored on SQLite only. ' +
          'On SQLite searches run on threads of their own (SEARCH_THREADS, default 2); past 64 waiting ' +
          'there, a search answers 503 SERVICE_UNAVAILABLE with Retry-After: 1. A search asked again while ' +
          'nothing has been committed since is answered from a cache of recent results (SEARCH_CACHE_MB); ' +
          'it never answers from data older than the last commit before the request.',
      }),
    ),
    sort: Type.Optional(
      Matching(
        `^-?(${SORT_FIELDS.join('|')})(,-?(${SORT_FIELDS.join('|')}))*$`,
        `must be a comma-separated list of ${SORT_FIELDS.join(', ')}, each optionally prefixed with -`,
        {
          'x-distinct-list': true,
          description:
            'Comma-separated createdAt, updatedAt, dueAt, priority, title; `-` prefix = descending. Default -createdAt',
        },
      ),
    ),
    deleted: Type.Optional(
      // No schema default: the parser must see whether the client sent `deleted`, since a
      // cursor followed on its own would otherwise look like it came with a changed filter.
      StringEnum(['exclude', 'include', 'only'] as const, {
        // No schema default: one would make `deleted` look sent on every request, and a
        // cursor issued for a filtered list would then be refused as "other filters".
        description: 'Default exclude. Deleted tasks are visible to their owner and admins only',
      }),
    ),
  },
  { additionalProperties: false },
)

export const TaskListSchema = Type.Object({
  items: Type.Array(Type.Ref(TaskSchema)),
  page: Type.Object({
    limit: Type.Integer(),
    offset: Type.Integer(),
    total: Type.Integer({ description: 'All matches of the filters' }),
    nextCursor: Nullable(Type.String({ description: 'Opaque; null on the last page' })),
  }),
})

export const IdempotencyHeaders = Type.Object({
  'idempotency-key': Type.Optional(
    Type.String({
      minLength: 1,
      maxLength: 255,
      pattern: '^[\\x20-\\x7E]+$',
      'x-error': 'must be 1–255 printable ASCII characters',
      description: 'Replays the first response for 24 h when retried with the same body',
    }),
  ),
})

export const ConditionalHeaders = Type.Object({
  'if-match': Type.Optional(
    Type.String({
      description: 'ETag of the version being changed; 412 when stale. `*` matches any version, alone only',
    }),
  ),
  'if-none-match': Type.Optional(
    Type.String({
      description: '412 when it names the current version (weak comparison), or is `*` (RFC 9110 §13.1.2)',
    }),
  ),
})

// Task rows: insert, read, versioned update, purge. Engine-specific SQL (PostgreSQL's
// one-statement insert) stays in this file; listings are in list-repository.ts.
import { CompiledQuery, type RawBuilder, sql } from 'kysely'
import type { Engine, Executor, ReadNow, ReadValues } from '../db/database.ts'
import { toIso, toIsoOrNull } from '../time.ts'
import type { Priority, Task, TaskInput } from './model.ts'
import { PRIORITIES } from './schemas.ts'

export const rankOf = (p: Priority): number => PRIORITIES.indexOf(p)

export interface TaskRow {
  id: string
  owner_id: string
  title: string
  description: string
  status: Task['status']
  priority: number
  due_at: string | Date | null
  tags: string | string[]
  created_at: string | Date
  updated_at: string | Date
  deleted_at: string | Date | null
  version: number
}

export const TASK_COLUMNS = [
  'tasks.id',
  'tasks.owner_id',
  'tasks.title',
  'tasks.description',
  'tasks.status',
  'tasks.priority',
  'tasks.due_at',
  'tasks.tags',
  'tasks.created_at',
  'tasks.updated_at',
  'tasks.deleted_at',
  'tasks.version',
] as const

/** The columns of a tasks row (TASK_COLUMNS without the table), in that order. */
const TASK_ROW_KEYS = TASK_COLUMNS.map((c) => c.slice('tasks.'.length) as keyof TaskRow)

/** A task from a row read as an object: its columns taken by name, then read as taskFromValues reads them. */
export function toTask(row: TaskRow): Task {
  return taskFromValues(TASK_ROW_KEYS.map((key) => row[key]))
}

/**
 * A task from a row read as values (Database.readNow, rowValues), its TASK_COLUMNS starting at
 * `at`, in that order. Listings and SQLite's direct reads answer rows this way; toTask turns an
 * object row into these values, so the conversions live here only.
 */
export function taskFromValues(v: readonly unknown[], at = 0): Task {
  const tags = v[at + 7] as string | string[]
  return {
    id: v[at] as string,
    title: v[at + 2] as string,
    description: v[at + 3] as string,
    status: v[at + 4] as Task['status'],
    priority: PRIORITIES[Number(v[at + 5])] ?? 'normal',
    dueAt: toIsoOrNull(v[at + 6] as string | Date | null),
    tags: Array.isArray(tags) ? tags : (JSON.parse(tags) as string[]),
    ownerId: v[at + 1] as string,
    createdAt: toIso(v[at + 8] as string | Date),
    updatedAt: toIso(v[at + 9] as string | Date),
    deletedAt: toIsoOrNull(v[at + 10] as string | Date | null),
    version: Number(v[at + 11]),
  }
}

/** A task's tag rows; each carries the task's creation time, for tag listings in that order (0006). */
const tagRows = (task: Pick<Task, 'id' | 'tags' | 'createdAt'>) =>
  task.tags.map((tag) => ({ task_id: task.id, tag, created_at: task.createdAt }))

async function replaceTags(
  db: Executor,
  task: Pick<Task, 'id' | 'tags' | 'createdAt'>,
  isNew = false,
): Promise<void> {
  if (!isNew) await db.deleteFrom('task_tags').where('task_id', '=', task.id).execute()
  if (task.tags.length > 0) await db.insertInto('task_tags').values(tagRows(task)).execute()
}

/** The `tasks` row of a task. */
function taskRowOf(task: Task) {
  return {
    id: task.id,
    owner_id: task.ownerId,
    title: task.title,
    description: task.description,
    status: task.status,
    priority: rankOf(task.priority),
    due_at: task.dueAt,
    tags: JSON.stringify(task.tags),
    created_at: task.createdAt,
    updated_at: task.updatedAt,
    deleted_at: task.deletedAt,
    version: task.version,
  }
}

export async function insertTask(db: Executor, engine: Engine, task: Task): Promise<void> {
  const row = taskRowOf(task)
  if (engine === 'postgres' && task.tags.length > 0) {
    // The task and its tag rows in one statement (a data-modifying CTE): every statement is a
    // round trip to the server, and one cost ~120 µs of this process's CPU per create
    // (bench, fixed request count). The foreign key is checked at the end of the statement,
    // when the task row exists.
    await db
      .with('inserted', (w) => w.insertInto('tasks').values(row))
      .insertInto('task_tags')
      .values(tagRows(task))
      .execute()
    return
  }
  await db.insertInto('tasks').values(row).execute()
  if (task.tags.length > 0) await replaceTags(db, task, true) // a new task has no tag rows yet
}

/**
 * PostgreSQL: inserting `task` and its tag rows as data-modifying CTEs, for a statement that
 * records its event too (EventRecorder.recordTaskEventWith). The tag rows' foreign key is
 * checked at the end of the statement, when the task row exists.
 */
export function postgresInsertTaskCtes(task: Task): RawBuilder<unknown> {
  const row = taskRowOf(task)
  const taskRow = sql`task_row AS (INSERT INTO tasks (${ROW_COLUMNS}) VALUES (${sql.join(ROW_KEYS.map((k) => row[k]))}))`
  if (task.tags.length === 0) return taskRow
  const tags = sql.join(tagRows(task).map((r) => sql`(${r.task_id}, ${r.tag}, ${r.created_at})`))
  return sql`${taskRow}, task_tag_rows AS (INSERT INTO task_tags (task_id, tag, created_at) VALUES ${tags})`
}

/**
 * PostgreSQL: `change` to `task` as data-modifying CTEs, for a statement that records its
 * event too (EventRecorder.recordTaskEventWith, gated on `task_row`). The row changes only if
 * it is still at `task.version`: `task_row` is then its id, and empty when another writer
 * got there first (nothing else in the statement happens then). A change of tags removes the
 * tag rows no longer wanted and adds the new ones; the tags kept keep their rows.
 */
export function postgresUpdateTaskCtes(task: Task, change: TaskChange): RawBuilder<unknown> {
  const sets = [
    ...(change.title !== undefined ? [sql`title = ${change.title}`] : []),
    ...(change.description !== undefined ? [sql`description = ${change.description}`] : []),
    ...(change.status !== undefined ? [sql`status = ${change.status}`] : []),
    ...(change.priority !== undefined ? [sql`priority = ${rankOf(change.priority)}`] : []),
    ...(change.dueAt !== undefined ? [sql`due_at = ${change.dueAt}`] : []),
    ...(change.tags !== undefined ? [sql`tags = ${JSON.stringify(change.tags)}`] : []),
    ...(change.deletedAt !== undefined ? [sql`deleted_at = ${change.deletedAt}`] : []),
    sql`updated_at = ${change.updatedAt}`,
    sql`version = version + 1`,
  ]
  const taskRow = sql`task_row AS (
    UPDATE tasks SET ${sql.join(sets)} WHERE id = ${task.id} AND version = ${task.version} RETURNING id)`
  if (change.tags === undefined) return taskRow
  return sql`${taskRow},
    tag_gone AS (
      DELETE FROM task_tags WHERE task_id IN (SELECT id FROM task_row) AND tag <> ALL(${change.tags}::text[])),
    tag_new AS (
      INSERT INTO task_tags (task_id, tag, created_at)
      SELECT task_row.id, t.tag, ${task.createdAt}::timestamptz FROM task_row, unnest(${change.tags}::text[]) AS t(tag)
      ON CONFLICT (task_id, tag) DO NOTHING)`
}

/** The task as `change` leaves it: what postgresUpdateTaskCtes writes, with the version after it. */
export function changedTask(task: Task, change: TaskChange): Task {
  const next: Task = { ...task, updatedAt: change.updatedAt, version: task.version + 1 }
  if (change.title !== undefined) next.title = change.title
  if (change.description !== undefined) next.description = change.description
  if (change.status !== undefined) next.status = change.status
  if (change.priority !== undefined) next.priority = change.priority
  if (change.dueAt !== undefined) next.dueAt = change.dueAt
  if (change.tags !== undefined) next.tags = change.tags
  if (change.deletedAt !== undefined) next.deletedAt = change.deletedAt
  return next
}

/**
 * The columns of a tasks row (TASK_COLUMNS without the table), as literal SQL made once: a
 * Kysely insert builder per create, compiled on the request path, cost 6% of PostgreSQL's
 * creates per second (bench, alternated three times).
 */
const ROW_KEYS: readonly (keyof ReturnType<typeof taskRowOf>)[] = TASK_ROW_KEYS
const ROW_COLUMNS = sql.raw(ROW_KEYS.join(', '))

const selectTaskById = (db: Executor, id: string) =>
  db.selectFrom('tasks').select(TASK_COLUMNS).where('tasks.id', '=', id)

/**
 * The SQL of selectTaskById, compiled once per database handle: building and compiling
 * the query was about 8% of the CPU of GET /v1/tasks/{id}, the hottest request. Keyed on
 * the handle (the Kysely instance; a transaction is a new handle and simply compiles).
 */
const taskByIdSql = new WeakMap<Executor, string>()

export async function findTaskById(
  db: Executor,
  id: string,
  reads: { now?: ReadNow; values?: ReadValues } = {},
): Promise<Task | undefined> {
  let text = taskByIdSql.get(db)
  if (text === undefined) {
    text = selectTaskById(db, id).compile().sql
    taskByIdSql.set(db, text)
  }
  const query = CompiledQuery.raw(text, [id])
  const values = reads.now?.(query) ?? (reads.values ? await reads.values(query) : undefined)
  if (values) return values[0] ? taskFromValues(values[0]) : undefined
  const row = (await db.executeQuery<TaskRow>(query)).rows[0]
  return row ? toTask(row) : undefined
}

/**
 * Reads a task that is about to change. On PostgreSQL the row stays locked until the
 * transaction ends, so concurrent writers queue instead of failing their version check;
 * SQLite already runs one write transaction at a time.
 */
export async function findTaskForChange(db: Executor, engine: Engine, id: string): Promise<Task | undefined> {
  const query = db.selectFrom('tasks').select(TASK_COLUMNS).where('tasks.id', '=', id)
  const row = await (engine === 'postgres' ? query.forUpdate() : query).executeTakeFirst()
  return row ? toTask(row) : undefined
}

export interface TaskChange extends TaskInput {
  deletedAt?: string | null
  updatedAt: string
}

/** Applies a change if the task is still at `expectedVersion`; undefined when someone else changed it first. */
export async function updateTaskVersioned(
  db: Executor,
  id: string,
  expectedVersion: number,
  change: TaskChange,
): Promise<Task | undefined> {
  const row = await db
    .updateTable('tasks')
    .set((eb) => ({
      ...(change.title !== undefined ? { title: change.title } : {}),
      ...(change.description !== undefined ? { description: change.description } : {}),
      ...(change.status !== undefined ? { status: change.status } : {}),
      ...(change.priority !== undefined ? { priority: rankOf(change.priority) } : {}),
      ...(change.dueAt !== undefined ? { due_at: change.dueAt } : {}),
      ...(change.tags !== undefined ? { tags: JSON.stringify(change.tags) } : {}),
      ...(change.deletedAt !== undefined ? { deleted_at: change.deletedAt } : {}),
      updated_at: change.updatedAt,
      version: eb('version', '+', 1),
    }))
    .where('id', '=', id)
    .where('version', '=', expectedVersion)
    .returning(TASK_COLUMNS.map((c) => c.replace('tasks.', '')) as unknown as typeof TASK_COLUMNS)
    .executeTakeFirst()
  if (!row) return undefined
  const task = toTask(row as TaskRow)
  if (change.tags !== undefined) await replaceTags(db, task)
  return task
}

/** Deletes tasks soft-deleted before `cutoff`, at most `batch` at a time; returns how many went. */
export async function purgeTasksDeletedBefore(db: Executor, cutoff: string, batch: number): Promise<number> {
  const result = await db
    .deleteFrom('tasks')
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('tasks')
        .select('id')
        .where('deleted_at', 'is not', null)
        .where('deleted_at', '<', cutoff)
        .limit(batch),
    )
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}

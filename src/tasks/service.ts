// Task business rules: validation beyond the schema, ownership through the
// policy module, preconditions, the transaction and the event row. Knows no HTTP.
import { type AuditRecorder, noAuditRecorder } from '../audit/recorder.ts'
import type { Principal } from '../auth/scopes.ts'
import { ifMatchSatisfied, ifNoneMatchHits } from '../conditional.ts'
import { type Database, type Executor, runInTransaction } from '../db/database.ts'
import { ApiError, forbidden, notFound, preconditionFailed } from '../errors.ts'
import type { EventRecorder } from '../events/recorder.ts'
import { uuidv7 } from '../ids.ts'
import type { Clock } from '../time.ts'
import type { ListPlan } from './list-query.ts'
import { AS_PAGE, type ListReads, listTasksAs, type PageForm, type TaskPage } from './list-repository.ts'
import {
  changedFields,
  normaliseTaskInput,
  type Task,
  type TaskInput,
  taskEtag,
  withDefaults,
} from './model.ts'
import { can, canSee, canSeeAllDeleted } from './policy.ts'
import {
  changedTask,
  findTaskById,
  findTaskForChange,
  insertTask,
  postgresInsertTaskCtes,
  postgresUpdateTaskCtes,
  type TaskChange,
  updateTaskVersioned,
} from './repository.ts'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

type ChangeEvent = 'task.updated' | 'task.deleted' | 'task.restored'

/** What a change makes of the task it read: nothing (answer with the task as it is), or a change and its event. */
type Decision = { unchanged: Task } | { change: TaskChange; event: ChangeEvent }

export interface Preconditions {
  /** The raw If-Match header, when the client sent one. */
  ifMatch?: string
  /** The raw If-None-Match header: a change to a task it names (or any task, for `*`) is 412. */
  ifNoneMatch?: string
}

/** Whether a change to `task` may go ahead under `pre`'s If-Match and If-None-Match (RFC 9110 §13.2.2). */
/** Throws 412 naming the conditional header that fails on `task`, if one does. */
function checkPreconditions(pre: Preconditions, task: Task): void {
  if (pre.ifMatch === undefined && pre.ifNoneMatch === undefined) return
  const etag = taskEtag(task)
  if (pre.ifMatch !== undefined && !ifMatchSatisfied(pre.ifMatch, etag)) throw preconditionFailed('if-match')
  if (pre.ifNoneMatch !== undefined && ifNoneMatchHits(pre.ifNoneMatch, etag))
    throw preconditionFailed('if-none-match')
}

export class TaskService {
  readonly #database: Database
  readonly #clock: Clock
  readonly #events: EventRecorder
  readonly #requireIfMatch: boolean
  readonly #audit: AuditRecorder
  readonly #reads: ListReads

  constructor(deps: {
    database: Database
    clock: Clock
    events: EventRecorder
    requireIfMatch: boolean
    /** Records changes made to someone else's task (an admin's), in the same transaction. */
    audit?: AuditRecorder
  }) {
    this.#database = deps.database
    this.#clock = deps.clock
    this.#events = deps.events
    this.#requireIfMatch = deps.requireIfMatch
    this.#audit = deps.audit ?? noAuditRecorder
    this.#reads = {
      offThread: deps.database.readOffThread?.bind(deps.database),
      now: deps.database.readNow?.bind(deps.database),
      values: deps.database.readValues?.bind(deps.database),
      searches: deps.database.searchCache,
    }
  }

  /** Creates a task owned by the caller; `alsoInTransaction` lets the caller commit more with it (the idempotency record). */
  async create(
    principal: Principal,
    input: TaskInput,
    alsoInTransaction?: (trx: Executor, task: Task) => Promise<void>,
  ): Promise<Task> {
    const fields = withDefaults(normaliseTaskInput(input))
    const now = this.#clock().toISOString()
    const task: Task = {
      id: uuidv7(),
      ...fields,
      ownerId: principal.userId,
      createdAt: now,
      updatedAt: now,
      deletedAt: null,
      version: 1,
    }
    const events = this.#events
    if (this.#database.engine === 'postgres' && !alsoInTransaction && events.recordTaskEventWith) {
      // One statement, atomic by itself: the task, its tags, its event and its deliveries.
      await events.recordTaskEventWith(this.#database.db, 'task.created', task, postgresInsertTaskCtes(task))
    } else {
      await runInTransaction(this.#database, async (trx) => {
        await insertTask(trx, this.#database.engine, task)
        await events.recordTaskEvent(trx, 'task.created', task)
        if (alsoInTransaction) await alsoInTransaction(trx, task)
      })
    }
    this.#events.afterCommit?.()
    return task
  }

  async get(principal: Principal, id: string): Promise<Task> {
    const task = UUID.test(id)
      ? await findTaskById(this.#database.db, id.toLowerCase(), this.#reads)
      : undefined
    if (!task || task.deletedAt !== null || !canSee(principal, task)) throw notFound('Task')
    return task
  }

  list(principal: Principal, plan: ListPlan): Promise<TaskPage> {
    return this.listAs(principal, plan, AS_PAGE)
  }

  /** As list, answering `form.make(page)`; a search's is kept for the next time (see listTasksAs). */
  listAs<R>(principal: Principal, plan: ListPlan, form: PageForm<R>): Promise<R> {
    const { db, engine } = this.#database
    const viewer = { userId: principal.userId, seesAllDeleted: canSeeAllDeleted(principal) }
    return listTasksAs(db, engine, plan, viewer, this.#reads, form)
  }

  async update(principal: Principal, id: string, input: TaskInput, pre: Preconditions): Promise<Task> {
    const patch = normaliseTaskInput(input)
    return this.#change(id, pre, principal, (task) => {
      if (task.deletedAt !== null) throw notFound('Task')
      if (!can(principal, 'task:update', task))
        throw forbidden('Only the owner of this task (or an admin) may change it')
      this.#checkPrecondition(task, pre)
      const changes = changedFields(task, patch)
      if (Object.keys(changes).length === 0) return { unchanged: task }
      return { change: { ...changes, updatedAt: this.#clock().toISOString() }, event: 'task.updated' }
    })
  }

  async softDelete(principal: Principal, id: string, pre: Preconditions): Promise<void> {
    await this.#change(id, pre, principal, (task) => {
      if (task.deletedAt !== null) throw notFound('Task')
      if (!can(principal, 'task:delete', task))
        throw forbidden('Only the owner of this task (or an admin) may delete it')
      this.#checkPrecondition(task, pre)
      const now = this.#clock().toISOString()
      return { change: { deletedAt: now, updatedAt: now }, event: 'task.deleted' }
    })
  }

  /** Restores a deleted task. Restoring a task that is not deleted changes nothing and answers with it. */
  async restore(principal: Principal, id: string, pre: Preconditions): Promise<Task> {
    return this.#change(id, pre, principal, (task) => {
      if (!canSee(principal, task)) throw notFound('Task')
      if (!can(principal, 'task:restore', task))
        throw forbidden('Only the owner of this task (or an admin) may restore it')
      checkPreconditions(pre, task)
      if (task.deletedAt === null) return { unchanged: task }
      return {
        change: { deletedAt: null, updatedAt: this.#clock().toISOString() },
        event: 'task.restored',
      }
    })
  }

  #checkPrecondition(task: Task, pre: Preconditions): void {
    if (pre.ifMatch === undefined) {
      if (this.#requireIfMatch) {
        throw new ApiError(
          'PRECONDITION_REQUIRED',
          'This deployment requires If-Match with the ETag of the version you are changing',
        )
      }
    }
    checkPreconditions(pre, task)
  }

  async #apply(
    trx: Executor,
    task: Task,
    change: TaskChange,
    event: ChangeEvent,
    principal: Principal,
  ): Promise<Task> {
    const updated = await updateTaskVersioned(trx, task.id, task.version, change)
    if (!updated) throw new ConcurrentChange()
    await this.#events.recordTaskEvent(trx, event, updated)
    await this.#audit.recordTaskChange(trx, principal, event, updated)
    return updated
  }

  /**
   * Reads the task, lets `decide` check it and say what changes, and makes the change with its
   * event (and audit row) atomically, only if no one else changed the task in between.
   * PostgreSQL's first attempt reads without a lock (#changeInOneStatement); if another writer
   * got in between, `decide` runs again on the task as it is now, locked, exactly as it would
   * have had the request waited for that writer: a deleted task is 404, a stale If-Match 412,
   * `If-Match: *` still matches. A locked attempt that still loses (SQLite, or a task changed
   * outside the service) is 412 with If-Match, and is tried again without (three times in all).
   */
  async #change(
    id: string,
    pre: Preconditions,
    principal: Principal,
    decide: (task: Task) => Decision,
  ): Promise<Task> {
    if (!UUID.test(id)) throw notFound('Task')
    const key = id.toLowerCase()
    const recordWith =
      this.#database.engine === 'postgres' ? this.#events.recordTaskEventWith?.bind(this.#events) : undefined
    let lockFree = recordWith !== undefined
    for (let lockedAttempts = 0; ; ) {
      try {
        const changed =
          lockFree && recordWith
            ? await this.#changeInOneStatement(key, principal, decide, recordWith)
            : await runInTransaction(this.#database, async (trx) => {
                const task = await findTaskForChange(trx, this.#database.engine, key)
                if (!task) throw notFound('Task')
                const decision = decide(task)
                if ('unchanged' in decision) return decision.unchanged
                return this.#apply(trx, task, decision.change, decision.event, principal)
              })
        this.#events.afterCommit?.()
        return changed
      } catch (error) {
        if (!(error instanceof ConcurrentChange)) throw error
        if (lockFree) {
          lockFree = false
          continue
        }
        // Someone changed the task between our read and write: with If-Match that is a failed precondition.
        if (pre.ifMatch !== undefined) throw preconditionFailed()
        if (++lockedAttempts >= 3)
          throw new ApiError('CONFLICT', 'The task is being changed concurrently; retry')
      }
    }
  }

  /**
   * PostgreSQL, first attempt: read without a lock, then one statement (the versioned UPDATE,
   * the tag rows that change, the event and its deliveries), atomic by
   * itself: two round trips where the locked path takes five or more (BEGIN, SELECT … FOR
   * UPDATE, UPDATE, tag rows, event, COMMIT). A change that writes an audit row (an admin's, to
   * someone else's task) runs in a transaction for it; there too the versioned UPDATE refuses a
   * task that changed since it was read.
   */
  async #changeInOneStatement(
    id: string,
    principal: Principal,
    decide: (task: Task) => Decision,
    recordWith: NonNullable<EventRecorder['recordTaskEventWith']>,
  ): Promise<Task> {
    const task = await findTaskById(this.#database.db, id)
    if (!task) throw notFound('Task')
    const decision = decide(task)
    if ('unchanged' in decision) return decision.unchanged
    const { change, event } = decision
    if (this.#audit.recordsTaskChange(principal, task)) {
      return runInTransaction(this.#database, (trx) => this.#apply(trx, task, change, event, principal))
    }
    const updated = changedTask(task, change)
    const cte = postgresUpdateTaskCtes(task, change)
    if (!(await recordWith(this.#database.db, event, updated, cte, 'task_row'))) throw new ConcurrentChange()
    return updated
  }
}

class ConcurrentChange extends Error {}

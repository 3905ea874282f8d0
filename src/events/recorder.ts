// The seam between changes and the outbox: services call `record` inside the
// transaction that makes the change, so an event exists exactly when its change does.
import type { RawBuilder } from 'kysely'
import type { Executor } from '../db/database.ts'
import type { Task } from '../tasks/model.ts'

export type TaskEventType = 'task.created' | 'task.updated' | 'task.deleted' | 'task.restored'

export interface EventRecorder {
  recordTaskEvent(trx: Executor, type: TaskEventType, task: Task): Promise<void>
  /**
   * PostgreSQL: makes the change and records its event in one statement, which is atomic by
   * itself, so it needs no BEGIN and COMMIT. `change` is the change as data-modifying CTEs
   * (`name AS (INSERT …)`, comma-separated) that the statement starts with. With `gate`, the
   * name of one of those CTEs, the event is recorded only if that CTE returned a row (a
   * versioned UPDATE that found its version); resolves whether the event was recorded.
   * Absent: callers use recordTaskEvent inside a transaction.
   */
  recordTaskEventWith?(
    db: Executor,
    type: TaskEventType,
    task: Task,
    change: RawBuilder<unknown>,
    gate?: string,
  ): Promise<boolean>
  /**
   * Called after the transaction that recorded events has committed. Only a wake-up for
   * readers on other instances: a crash before it delays delivery (readers poll), never loses it.
   */
  afterCommit?(): void
}

/** Records nothing: for tools and tests that do not exercise events. */
export const noEventRecorder: EventRecorder = {
  async recordTaskEvent() {},
}

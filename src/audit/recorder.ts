// The audit log's write side: services call it inside the transaction that makes
// the change it records, so an audit row exists exactly when its change does.
import type { Principal, RequestOrigin } from '../auth/scopes.ts'
import type { Executor } from '../db/database.ts'
import type { TaskEventType } from '../events/recorder.ts'
import { uuidv7 } from '../ids.ts'
import type { Task } from '../tasks/model.ts'
import type { Clock } from '../time.ts'

export const AUDIT_ACTIONS = [
  'user.registered',
  'user.created',
  'user.role_changed',
  // Written by migration 0008 only: an account whose email another holds in Unicode NFC.
  'user.email_unreachable',
  'login.succeeded',
  'login.failed',
  'logout',
  'refresh.reused',
  'api_token.created',
  'api_token.revoked',
  'task.created',
  'task.updated',
  'task.deleted',
  'task.restored',
] as const
export type AuditAction = (typeof AUDIT_ACTIONS)[number]

export interface AuditEntry {
  action: AuditAction
  actorId: string | null
  targetType?: 'user' | 'api_token' | 'task' | 'session'
  targetId?: string
  origin?: RequestOrigin | undefined
  details?: Record<string, unknown>
}

/** What TaskService needs: record changes a caller makes to someone else's task. */
export interface AuditRecorder {
  /** Whether recordTaskChange writes a row for `principal` changing `task` (callers that make no row skip the transaction). */
  recordsTaskChange(principal: Principal, task: Pick<Task, 'ownerId'>): boolean
  recordTaskChange(trx: Executor, principal: Principal, type: TaskEventType, task: Task): Promise<void>
}

export const noAuditRecorder: AuditRecorder = {
  recordsTaskChange: () => false,
  async recordTaskChange() {},
}

export class AuditLog implements AuditRecorder {
  readonly #clock: Clock

  constructor(clock: Clock) {
    this.#clock = clock
  }

  async record(trx: Executor, entry: AuditEntry): Promise<void> {
    await trx
      .insertInto('audit_events')
      .values({
        id: uuidv7(),
        at: this.#clock().toISOString(),
        actor_id: entry.actorId,
        action: entry.action,
        target_type: entry.targetType ?? null,
        target_id: entry.targetId ?? null,
        address: entry.origin?.address ?? null,
        request_id: entry.origin?.requestId ?? null,
        details: JSON.stringify(entry.details ?? {}),
      })
      .execute()
  }

  /** Only changes to another user's task are audited (an admin acting on it); owners' own edits are events, not audit. */
  recordsTaskChange(principal: Principal, task: Pick<Task, 'ownerId'>): boolean {
    return principal.userId !== task.ownerId
  }

  async recordTaskChange(
    trx: Executor,
    principal: Principal,
    type: TaskEventType,
    task: Task,
  ): Promise<void> {
    if (!this.recordsTaskChange(principal, task)) return
    await this.record(trx, {
      action: type,
      actorId: principal.userId,
      targetType: 'task',
      targetId: task.id,
      origin: principal.origin,
      details: { ownerId: task.ownerId, version: task.version },
    })
  }
}

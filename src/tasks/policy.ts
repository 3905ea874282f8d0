// Who may do what to a task: the one place these rules live (Outline's policies/).
import type { Principal } from '../auth/scopes.ts'
import type { Task } from './model.ts'

export type TaskAction = 'task:read' | 'task:update' | 'task:delete' | 'task:restore'

function ownsOrAdmin(principal: Principal, task: Pick<Task, 'ownerId'>): boolean {
  return principal.role === 'admin' || principal.userId === task.ownerId
}

/** Whether the caller may see the task at all; an invisible task is answered with 404. */
export function canSee(principal: Principal, task: Pick<Task, 'ownerId' | 'deletedAt'>): boolean {
  return task.deletedAt === null || ownsOrAdmin(principal, task)
}

export function can(
  principal: Principal,
  action: TaskAction,
  task: Pick<Task, 'ownerId' | 'deletedAt'>,
): boolean {
  switch (action) {
    case 'task:read':
      return canSee(principal, task)
    case 'task:update':
    case 'task:delete':
    case 'task:restore':
      return ownsOrAdmin(principal, task)
  }
}

/** Whether the caller may list deleted tasks of every owner (otherwise only their own). */
export function canSeeAllDeleted(principal: Principal): boolean {
  return principal.role === 'admin'
}

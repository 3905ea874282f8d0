// Who may manage which webhook: the one place these rules live.
import type { Principal } from '../auth/scopes.ts'
import type { Webhook } from './model.ts'

/** Owners manage their own webhooks; admins manage everyone's. Others do not see them (404). */
export function canManageWebhook(principal: Principal, webhook: Pick<Webhook, 'ownerId'>): boolean {
  return principal.role === 'admin' || principal.userId === webhook.ownerId
}

/** Whose webhooks a listing shows: the caller's own, or all of them for admins (undefined). */
export function webhookOwnerFilter(principal: Principal): string | undefined {
  return principal.role === 'admin' ? undefined : principal.userId
}

/** Every authenticated user may read every task (API.md §3), so every event is visible to every stream. */
export function canSeeEvent(_principal: Principal): boolean {
  return true
}

// Data access for webhook endpoints and the deliveries their owners see (the dispatcher's
// queue operations are in queue-repository.ts).
import type { Executor } from '../db/database.ts'
import { toIso, toIsoOrNull } from '../time.ts'
import type { Delivery, Webhook } from './model.ts'

function toWebhook(row: {
  id: string
  owner_id: string
  url: string
  description: string
  events: string
  secret: string
  enabled: boolean | number
  disabled_reason: string | null
  consecutive_failures: number
  created_at: string | Date
  updated_at: string | Date
}): Webhook {
  return {
    id: row.id,
    ownerId: row.owner_id,
    url: row.url,
    description: row.description,
    events: JSON.parse(row.events) as string[],
    secret: row.secret,
    enabled: Boolean(row.enabled),
    disabledReason: row.disabled_reason,
    consecutiveFailures: row.consecutive_failures,
    createdAt: toIso(row.created_at),
    updatedAt: toIso(row.updated_at),
  }
}

export async function insertWebhook(db: Executor, w: Webhook): Promise<void> {
  await db
    .insertInto('webhooks')
    .values({
      id: w.id,
      owner_id: w.ownerId,
      url: w.url,
      description: w.description,
      events: JSON.stringify(w.events),
      secret: w.secret,
      enabled: w.enabled,
      disabled_reason: w.disabledReason,
      consecutive_failures: w.consecutiveFailures,
      created_at: w.createdAt,
      updated_at: w.updatedAt,
    })
    .execute()
}

export async function countWebhooksOf(db: Executor, ownerId: string): Promise<number> {
  const row = await db
    .selectFrom('webhooks')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('owner_id', '=', ownerId)
    .executeTakeFirst()
  return Number(row?.n ?? 0)
}

export async function findWebhook(db: Executor, id: string): Promise<Webhook | undefined> {
  const row = await db.selectFrom('webhooks').selectAll().where('id', '=', id).executeTakeFirst()
  return row ? toWebhook(row) : undefined
}

/** Webhooks of one owner, or of everyone when `ownerId` is undefined (admins), oldest first. */
export async function listWebhooks(db: Executor, ownerId: string | undefined): Promise<Webhook[]> {
  let query = db.selectFrom('webhooks').selectAll().orderBy('id').limit(1000)
  if (ownerId !== undefined) query = query.where('owner_id', '=', ownerId)
  return (await query.execute()).map(toWebhook)
}

export interface WebhookChange {
  url?: string
  description?: string
  events?: string[]
  enabled?: boolean
  disabledReason?: string | null
  consecutiveFailures?: number
  updatedAt: string
}

export async function updateWebhook(db: Executor, id: string, c: WebhookChange): Promise<void> {
  await db
    .updateTable('webhooks')
    .set({
      ...(c.url !== undefined ? { url: c.url } : {}),
      ...(c.description !== undefined ? { description: c.description } : {}),
      ...(c.events !== undefined ? { events: JSON.stringify(c.events) } : {}),
      ...(c.enabled !== undefined ? { enabled: c.enabled } : {}),
      ...(c.disabledReason !== undefined ? { disabled_reason: c.disabledReason } : {}),
      ...(c.consecutiveFailures !== undefined ? { consecutive_failures: c.consecutiveFailures } : {}),
      updated_at: c.updatedAt,
    })
    .where('id', '=', id)
    .execute()
}

export async function deleteWebhook(db: Executor, id: string): Promise<void> {
  await db.deleteFrom('webhooks').where('id', '=', id).execute()
}

interface DeliveryRow {
  id: string
  webhook_id: string
  event_id: number | string
  event_type: string
  status: 'pending' | 'succeeded' | 'failed'
  attempts: number
  next_attempt_at: string | Date | null
  last_attempt_at: string | Date | null
  last_response_status: number | null
  last_error: string | null
  created_at: string | Date
}

function toDelivery(row: DeliveryRow): Delivery {
  return {
    id: row.id,
    webhookId: row.webhook_id,
    eventId: String(row.event_id),
    eventType: row.event_type,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? toIsoOrNull(row.next_attempt_at) : null,
    lastAttemptAt: toIsoOrNull(row.last_attempt_at),
    lastResponseStatus: row.last_response_status,
    lastError: row.last_error,
    createdAt: toIso(row.created_at),
  }
}

/** Deliveries of one webhook, newest first, keyset-paged on the (time-ordered) id. */
export async function listDeliveries(
  db: Executor,
  webhookId: string,
  options: { limit: number; before?: string },
): Promise<Delivery[]> {
  let query = db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('webhook_id', '=', webhookId)
    .orderBy('id', 'desc')
    .limit(options.limit)
  if (options.before !== undefined) query = query.where('id', '<', options.before)
  return (await query.execute()).map(toDelivery)
}

export async function findDelivery(
  db: Executor,
  webhookId: string,
  id: string,
): Promise<Delivery | undefined> {
  const row = await db
    .selectFrom('webhook_deliveries')
    .selectAll()
    .where('id', '=', id)
    .where('webhook_id', '=', webhookId)
    .executeTakeFirst()
  return row ? toDelivery(row) : undefined
}

/**
 * Makes a delivery pending and due now (manual redelivery; the webhook-id stays the same). While an instance holds its lease (an attempt in flight,
 * or an instance that died mid-attempt, until the lease expires) nothing changes and the lease's
 * end is returned: clearing the lease would let a second attempt start beside the first, whose
 * outcome would then be dropped.
 */
export async function requeueDelivery(
  db: Executor,
  id: string,
  now: string,
): Promise<{ requeued: true } | { requeued: false; leasedUntil: string }> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'pending', next_attempt_at: now, lease_until: null, leased_by: null, updated_at: now })
    .where('id', '=', id)
    .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
    .executeTakeFirst()
  if (Number(result.numUpdatedRows) > 0) return { requeued: true }
  const row = await db
    .selectFrom('webhook_deliveries')
    .select('lease_until')
    .where('id', '=', id)
    .executeTakeFirst()
  // Gone or released in between: report a lease ending now, so the caller may simply retry.
  return { requeued: false, leasedUntil: row?.lease_until ? toIso(row.lease_until) : now }
}

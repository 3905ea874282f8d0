// The delivery queue: fan-out rows written with each event, the dispatcher's lease-based claim,
// attempt outcomes and endpoint health (the engine-specific locking SQL lives here).
import { type RawBuilder, sql } from 'kysely'
import { type Engine, type Executor, limitSql } from '../db/database.ts'
import { uuidv7 } from '../ids.ts'
import { toIso } from '../time.ts'
import type { DeliveryJob } from './model.ts'
/** Enabled webhooks subscribed to `type` (the outbox fans out to these). */
export async function subscribedWebhookIds(db: Executor, type: string): Promise<string[]> {
  const rows = await db.selectFrom('webhooks').select(['id', 'events']).where('enabled', '=', true).execute()
  return rows.filter((r) => (JSON.parse(r.events) as string[]).includes(type)).map((r) => r.id)
}

/**
 * Rows per INSERT: each row binds 9 parameters, and one statement may bind at most 32,766 on
 * SQLite and 65,535 on PostgreSQL (the protocol's 16-bit count); past ~3,600 subscribers one
 * statement for all of them failed the change. (PostgreSQL's one-statement creates and changes
 * write their deliveries with postgresPendingDeliveries instead, binding no parameter per row.)
 */
const DELIVERY_ROWS_PER_INSERT = 1000

export async function insertPendingDeliveries(
  db: Executor,
  d: { eventId: number; eventType: string; webhookIds: string[]; now: string },
): Promise<void> {
  for (let start = 0; start < d.webhookIds.length; start += DELIVERY_ROWS_PER_INSERT) {
    await db
      .insertInto('webhook_deliveries')
      .values(
        d.webhookIds.slice(start, start + DELIVERY_ROWS_PER_INSERT).map((webhookId) => ({
          id: uuidv7(),
          webhook_id: webhookId,
          event_id: d.eventId,
          event_type: d.eventType,
          status: 'pending' as const,
          attempts: 0,
          next_attempt_at: d.now,
          created_at: d.now,
          updated_at: d.now,
        })),
      )
      .execute()
  }
}

/**
 * PostgreSQL: the pending deliveries of the event that the CTE `eventCte` inserted, as a CTE
 * `delivery_rows` of the same statement: one per enabled webhook subscribed to `eventType`,
 * read in that statement, with no parameter per row. Their ids are UUIDv7 like
 * insertPendingDeliveries' (the delivery list pages on their time order): one made here, its
 * last 24 bits replaced by each subscriber's rank, so they sort in webhook order.
 * PostgreSQL 15 has no uuidv7() of its own; six hex digits rank 16,777,215 subscribers, far
 * more than one statement inserts within the statement timeout.
 */
export function postgresPendingDeliveries(
  eventCte: string,
  eventType: string,
  now: string,
): RawBuilder<unknown> {
  const event = sql.table(eventCte)
  return sql`delivery_rows AS (
    INSERT INTO webhook_deliveries
      (id, webhook_id, event_id, event_type, status, attempts, next_attempt_at, created_at, updated_at)
    SELECT (${uuidv7().slice(0, 30)}::text || lpad(to_hex(row_number() OVER (ORDER BY w.id)), 6, '0'))::uuid,
      w.id, ${event}.id, ${eventType}::text, 'pending', 0,
      ${now}::timestamptz, ${now}::timestamptz, ${now}::timestamptz
    FROM webhooks w CROSS JOIN ${event}
    WHERE w.enabled AND w.events::jsonb ? ${eventType}::text
  )`
}

/**
 * Claims up to `limit` due deliveries of enabled webhooks for `instanceId` until `leaseUntil`.
 * A delivery whose lease ran out (its instance crashed) is due again. PostgreSQL: the
 * candidate rows are locked FOR UPDATE SKIP LOCKED, so concurrent instances claim disjoint
 * sets without waiting; SQLite: one UPDATE … RETURNING under the single writer lock.
 */
export async function claimDueDeliveries(
  db: Executor,
  engine: Engine,
  c: { instanceId: string; now: string; leaseUntil: string; limit: number },
): Promise<string[]> {
  const due = sql`d.status = 'pending' AND d.next_attempt_at <= ${c.now}
      AND (d.lease_until IS NULL OR d.lease_until < ${c.now})
      AND EXISTS (SELECT 1 FROM webhooks w WHERE w.id = d.webhook_id AND w.enabled = ${true})`
  const lock = engine === 'postgres' ? sql`FOR UPDATE OF d SKIP LOCKED` : sql``
  const { rows } = await sql<{ id: string }>`
    UPDATE webhook_deliveries SET lease_until = ${c.leaseUntil}, leased_by = ${c.instanceId}
    WHERE id IN (
      SELECT d.id FROM webhook_deliveries d WHERE ${due}
      ORDER BY d.next_attempt_at LIMIT ${limitSql(c.limit)} ${lock}
    )
    RETURNING id`.execute(db)
  return rows.map((r) => String(r.id))
}

/** Everything needed to attempt a claimed delivery. */
export async function loadDeliveryJob(db: Executor, id: string): Promise<DeliveryJob | undefined> {
  const row = await db
    .selectFrom('webhook_deliveries as d')
    .innerJoin('webhooks as w', 'w.id', 'd.webhook_id')
    .innerJoin('events as e', 'e.id', 'd.event_id')
    .select([
      'd.id as id',
      'd.attempts as attempts',
      'w.id as webhookId',
      'w.url as url',
      'w.secret as secret',
      'w.consecutive_failures as endpointFailures',
      'e.payload as payload',
    ])
    .where('d.id', '=', id)
    .executeTakeFirst()
  return row ? { ...row, id: String(row.id), webhookId: String(row.webhookId) } : undefined
}

/**
 * Records the outcome of an attempt, only while the lease is still ours (an instance that
 * overran its lease must not overwrite the outcome of the one that took over).
 */
export async function recordAttempt(
  db: Executor,
  a: {
    id: string
    instanceId: string
    status: 'pending' | 'succeeded' | 'failed'
    attempts: number
    nextAttemptAt: string | null
    responseStatus: number | null
    error: string | null
    now: string
  },
): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({
      status: a.status,
      attempts: a.attempts,
      next_attempt_at: a.nextAttemptAt,
      last_attempt_at: a.now,
      last_response_status: a.responseStatus,
      last_error: a.error,
      lease_until: null,
      leased_by: null,
      updated_at: a.now,
    })
    .where('id', '=', a.id)
    .where('leased_by', '=', a.instanceId)
    .executeTakeFirst()
  return Number(result.numUpdatedRows) > 0
}

/** Counts a failed attempt against the endpoint; disables it at `disableAfter`. Returns whether it was disabled now. */
export async function countEndpointFailure(
  db: Executor,
  webhookId: string,
  disableAfter: number,
  now: string,
): Promise<boolean> {
  const row = await db
    .updateTable('webhooks')
    .set((eb) => ({ consecutive_failures: eb('consecutive_failures', '+', 1), updated_at: now }))
    .where('id', '=', webhookId)
    .returning(['consecutive_failures', 'enabled'])
    .executeTakeFirst()
  if (!row?.enabled || row.consecutive_failures < disableAfter) return false
  await disableEndpoint(
    db,
    webhookId,
    `disabled after ${row.consecutive_failures} consecutive failed attempts`,
    now,
  )
  return true
}

export async function disableEndpoint(
  db: Executor,
  webhookId: string,
  reason: string,
  now: string,
): Promise<void> {
  await db
    .updateTable('webhooks')
    .set({ enabled: false, disabled_reason: reason, updated_at: now })
    .where('id', '=', webhookId)
    .execute()
}

export async function resetEndpointFailures(db: Executor, webhookId: string): Promise<void> {
  await db
    .updateTable('webhooks')
    .set({ consecutive_failures: 0 })
    .where('id', '=', webhookId)
    .where('consecutive_failures', '>', 0)
    .execute()
}

/** The event backlog for /metrics. */
export async function countPendingDeliveries(db: Executor): Promise<number> {
  const row = await db
    .selectFrom('webhook_deliveries')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('status', '=', 'pending')
    .executeTakeFirst()
  return Number(row?.n ?? 0)
}

export async function oldestPendingDelivery(db: Executor): Promise<string | undefined> {
  const row = await db
    .selectFrom('webhook_deliveries')
    .select('created_at')
    .where('status', '=', 'pending')
    .orderBy('created_at')
    .limit(1)
    .executeTakeFirst()
  return row ? toIso(row.created_at) : undefined
}

/** Gives a claimed delivery back untouched (shutdown interrupted its attempt): due again at once. */
export async function releaseLease(db: Executor, id: string, instanceId: string): Promise<void> {
  await db
    .updateTable('webhook_deliveries')
    .set({ lease_until: null, leased_by: null })
    .where('id', '=', id)
    .where('leased_by', '=', instanceId)
    .execute()
}

// Data access for the outbox: writing event rows, reading them in commit order, retention.
// Positions hide the engine difference: SQLite orders by id, PostgreSQL by (xid, id).
import { sql } from 'kysely'
import { type Engine, type Executor, limitSql } from '../db/database.ts'

/** Where a reader stands in the event log. `xid` is the writing transaction (PostgreSQL only). */
export interface EventPosition {
  id: number
  xid: string
}

export interface StoredEvent {
  id: number
  xid: string
  type: string
  payload: string
}

export const START: EventPosition = { id: 0, xid: '0' }

export async function insertEvent(
  trx: Executor,
  row: { type: string; taskId: string; ownerId: string; payload: string; createdAt: string },
): Promise<number> {
  const inserted = await trx
    .insertInto('events')
    .values({
      type: row.type,
      task_id: row.taskId,
      owner_id: row.ownerId,
      payload: row.payload,
      created_at: row.createdAt,
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  return Number(inserted.id)
}

/**
 * Events committed after `after`, oldest first, never skipping one that commits late.
 * SQLite: writers are serialised (BEGIN IMMEDIATE on the one connection), so an id is
 * allocated and committed before the next writer starts: id order is commit order.
 * PostgreSQL: ids come from a sequence before commit, so a smaller id can commit after a
 * larger one. Rows are read in (xid, id) order and only when their transaction is older than
 * the oldest one still running (xid < snapshot xmin): every transaction below xmin has ended,
 * so nothing can appear later before the reader's position.
 */
export async function readEventsAfter(
  db: Executor,
  engine: Engine,
  after: EventPosition,
  limit: number,
): Promise<StoredEvent[]> {
  if (engine === 'sqlite') {
    const rows = await db
      .selectFrom('events')
      .select(['id', 'type', 'payload'])
      .where('id', '>', after.id)
      .orderBy('id')
      .limit(limitSql(limit))
      .execute()
    return rows.map((r) => ({ id: Number(r.id), xid: '0', type: r.type, payload: r.payload }))
  }
  const { rows } = await sql<{ id: string; xid: string; type: string; payload: string }>`
    SELECT id, xid::text AS xid, type, payload FROM events
    WHERE (xid, id) > (${after.xid}::xid8, ${after.id})
      AND xid < pg_snapshot_xmin(pg_current_snapshot())
    ORDER BY xid, id
    LIMIT ${limit}`.execute(db)
  return rows.map((r) => ({ id: Number(r.id), xid: r.xid, type: r.type, payload: r.payload }))
}

/**
 * PostgreSQL: whether committed events after `after` remain unread once a read has returned:
 * held back by an older transaction (anywhere in the cluster) that is still running, or released
 * since, when that transaction ended between the read and this check. Readers then look again
 * shortly instead of waiting for the next notification, which the end of that older transaction
 * does not send. Asking only for events still held back (xid at or past the snapshot's xmin) would
 * miss the second case: the check's later snapshot sees them released, the read's earlier one
 * did not return them. Always false on SQLite.
 */
export async function hasUnreadEvents(db: Executor, engine: Engine, after: EventPosition): Promise<boolean> {
  if (engine === 'sqlite') return false
  const { rows } = await sql<{ unread: boolean }>`
    SELECT EXISTS (
      SELECT 1 FROM events WHERE (xid, id) > (${after.xid}::xid8, ${after.id})
    ) AS unread`.execute(db)
  return rows[0]?.unread === true
}

/** The position of "now": a reader starting here sees only events committed from now on. */
export async function currentPosition(db: Executor, engine: Engine): Promise<EventPosition> {
  if (engine === 'sqlite') {
    const row = await db
      .selectFrom('events')
      .select((eb) => eb.fn.max('id').as('max'))
      .executeTakeFirst()
    return { id: Number(row?.max ?? 0), xid: '0' }
  }
  // Every transaction below xmin has ended and is in the past; xmin itself and later are future.
  const { rows } = await sql<{ xmin: string }>`
    SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin`.execute(db)
  return { id: 0, xid: rows[0]?.xmin ?? '0' }
}

/**
 * The position right after event `id` (a client's Last-Event-ID). An id no longer stored
 * (past retention), or one this database never gave (past its newest: another database's, or
 * made up), resumes from the oldest retained event: duplicates, never a loss, and never a
 * stream that waits in silence for ids that may not come for a long time.
 */
export async function positionAfterEvent(db: Executor, engine: Engine, id: number): Promise<EventPosition> {
  if (engine === 'sqlite') return id > (await currentPosition(db, engine)).id ? START : { id, xid: '0' }
  const { rows } = await sql<{ xid: string }>`SELECT xid::text AS xid FROM events WHERE id = ${id}`.execute(
    db,
  )
  const xid = rows[0]?.xid
  return xid === undefined ? START : { id, xid }
}

/**
 * Deletes events older than `cutoff` that no pending delivery still needs (their finished
 * deliveries go with them through ON DELETE CASCADE). Returns how many were deleted.
 */
export async function purgeEventsBefore(db: Executor, cutoff: string, batch: number): Promise<number> {
  const result = await db
    .deleteFrom('events')
    .where(
      'id',
      'in',
      db
        .selectFrom('events as e')
        .select('e.id')
        .where('e.created_at', '<', cutoff)
        .where((eb) =>
          eb.not(
            eb.exists(
              eb
                .selectFrom('webhook_deliveries as d')
                .select('d.id')
                .whereRef('d.event_id', '=', 'e.id')
                .where('d.status', '=', 'pending'),
            ),
          ),
        )
        .orderBy('e.id')
        .limit(batch),
    )
    .executeTakeFirst()
  return Number(result.numDeletedRows)
}

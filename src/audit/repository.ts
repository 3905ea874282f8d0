// Audit rows out: filtered, newest first, paginated.
import type { Executor } from '../db/database.ts'
import { toIso } from '../time.ts'

export interface AuditEvent {
  id: string
  at: string
  actorId: string | null
  action: string
  targetType: string | null
  targetId: string | null
  address: string | null
  requestId: string | null
  details: Record<string, unknown>
}

export interface AuditFilter {
  actorId?: string
  action?: string
  from?: string
  to?: string
  limit: number
  offset: number
}

export async function listAuditEvents(
  db: Executor,
  filter: AuditFilter,
): Promise<{ items: AuditEvent[]; total: number }> {
  let query = db.selectFrom('audit_events')
  if (filter.actorId !== undefined) query = query.where('actor_id', '=', filter.actorId)
  if (filter.action !== undefined) query = query.where('action', '=', filter.action)
  if (filter.from !== undefined) query = query.where('at', '>=', filter.from)
  if (filter.to !== undefined) query = query.where('at', '<', filter.to)
  const [rows, count] = await Promise.all([
    query
      .selectAll()
      .orderBy('at', 'desc')
      .orderBy('id', 'desc')
      .limit(filter.limit)
      .offset(filter.offset)
      .execute(),
    query.select((eb) => eb.fn.countAll<number | string>().as('n')).executeTakeFirstOrThrow(),
  ])
  return {
    total: Number(count.n),
    items: rows.map((row) => ({
      id: row.id,
      at: toIso(row.at),
      actorId: row.actor_id,
      action: row.action,
      targetType: row.target_type,
      targetId: row.target_id,
      address: row.address,
      requestId: row.request_id,
      details: JSON.parse(row.details) as Record<string, unknown>,
    })),
  }
}

// The transactional outbox (events), webhook endpoints and their deliveries (API.md §4).
import { type Kysely, sql } from 'kysely'
import type { Engine } from '../database.ts'

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const statements = engine === 'postgres' ? postgres() : sqlite()
  for (const statement of statements) await statement.execute(db)
}

function sqlite() {
  return [
    // AUTOINCREMENT: ids are never reused after retention deletes the newest rows, so a
    // client's Last-Event-ID can never point at a different event later.
    sql`CREATE TABLE events (
      id INTEGER PRIMARY KEY AUTOINCREMENT,
      type TEXT NOT NULL,
      task_id TEXT NOT NULL,
      owner_id TEXT NOT NULL,
      payload TEXT NOT NULL,
      created_at TEXT NOT NULL
    )`,
    sql`CREATE INDEX events_created ON events (created_at)`,
    sql`CREATE TABLE webhooks (
      id TEXT PRIMARY KEY,
      owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      url TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      events TEXT NOT NULL,
      secret TEXT NOT NULL,
      enabled INTEGER NOT NULL DEFAULT 1,
      disabled_reason TEXT,
      consecutive_failures INTEGER NOT NULL DEFAULT 0,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    )`,
    sql`CREATE INDEX webhooks_owner ON webhooks (owner_id, id)`,
    sql`CREATE TABLE webhook_deliveries (
      id TEXT PRIMARY KEY,
      webhook_id TEXT NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
      event_id INTEGER NOT NULL REFERENCES events(id) ON DELETE CASCADE,
      event_type TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at TEXT,
      lease_until TEXT,
      leased_by TEXT,
      last_attempt_at TEXT,
      last_response_status INTEGER,
      last_error TEXT,
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    )`,
    sql`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`,
    sql`CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id)`,
    sql`CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id)`,
  ]
}

function postgres() {
  return [
    // `xid` is the writing transaction's id. Sequence ids are handed out before commit, so id
    // order is not commit order; readers order by (xid, id) and only read rows whose xid is below
    // the oldest running transaction (see src/events/repository.ts), which no late commit can precede.
    sql`CREATE TABLE events (
      id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
      xid XID8 NOT NULL DEFAULT pg_current_xact_id(),
      type TEXT NOT NULL,
      task_id UUID NOT NULL,
      owner_id UUID NOT NULL,
      payload TEXT NOT NULL,
      created_at TIMESTAMPTZ NOT NULL
    )`,
    sql`CREATE INDEX events_position ON events (xid, id)`,
    sql`CREATE INDEX events_created ON events (created_at)`,
    sql`CREATE TABLE webhooks (
      id UUID PRIMARY KEY,
      owner_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      url TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      events TEXT NOT NULL,
      secret TEXT NOT NULL,
      enabled BOOLEAN NOT NULL DEFAULT TRUE,
      disabled_reason TEXT,
      consecutive_failures INTEGER NOT NULL DEFAULT 0,
      created_at TIMESTAMPTZ NOT NULL,
      updated_at TIMESTAMPTZ NOT NULL
    )`,
    sql`CREATE INDEX webhooks_owner ON webhooks (owner_id, id)`,
    sql`CREATE TABLE webhook_deliveries (
      id UUID PRIMARY KEY,
      webhook_id UUID NOT NULL REFERENCES webhooks(id) ON DELETE CASCADE,
      event_id BIGINT NOT NULL REFERENCES events(id) ON DELETE CASCADE,
      event_type TEXT NOT NULL,
      status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
      attempts INTEGER NOT NULL DEFAULT 0,
      next_attempt_at TIMESTAMPTZ,
      lease_until TIMESTAMPTZ,
      leased_by TEXT,
      last_attempt_at TIMESTAMPTZ,
      last_response_status INTEGER,
      last_error TEXT,
      created_at TIMESTAMPTZ NOT NULL,
      updated_at TIMESTAMPTZ NOT NULL
    )`,
    sql`CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending'`,
    sql`CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, id)`,
    sql`CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id)`,
  ]
}

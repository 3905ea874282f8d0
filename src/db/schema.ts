// Kysely table types: the shape of every table as the repositories see it.
// Timestamps are RFC 3339 strings on both engines (PostgreSQL's timestamptz is read
// as text by src/db/postgres.ts); a Date can still come back from PostgreSQL for
// values outside that form, so columns that hold times accept both when read.
import type { ColumnType } from 'kysely'

/** A time column: written as an ISO string, read as one (or, rarely on PostgreSQL, a Date). */
export type Timestamp = ColumnType<string | Date, string, string>
export type NullableTimestamp = ColumnType<string | Date | null, string | null, string | null>

export interface UsersTable {
  id: string
  email: string
  name: string
  password_hash: string | null
  role: 'user' | 'admin'
  created_at: Timestamp
  updated_at: Timestamp
}

export interface RefreshTokensTable {
  id: string
  user_id: string
  family_id: string
  token_hash: string
  created_at: Timestamp
  expires_at: Timestamp
  used_at: NullableTimestamp
  revoked_at: NullableTimestamp
}

export interface TasksTable {
  id: string
  owner_id: string
  title: string
  description: string
  status: 'todo' | 'doing' | 'done'
  /** Rank 0–3 (low, normal, high, urgent) so it sorts by meaning, not alphabet. */
  priority: number
  due_at: NullableTimestamp
  /** JSON array of normalised tags, in the order the client gave them. */
  tags: ColumnType<string, string, string>
  created_at: Timestamp
  updated_at: Timestamp
  deleted_at: NullableTimestamp
  version: number
}

export interface TaskTagsTable {
  task_id: string
  tag: string
  /** The task's created_at (it never changes), so a tag's tasks come in creation order (0006). */
  created_at: Timestamp
}

export interface IdempotencyKeysTable {
  user_id: string
  key: string
  request_hash: string
  state: 'in_progress' | 'completed'
  status_code: number | null
  response_body: string | null
  location: string | null
  created_at: Timestamp
  expires_at: Timestamp
}

export interface SigningKeysTable {
  kid: string
  alg: string
  public_jwk: string
  /** PKCS#8 PEM, or an AES-256-GCM envelope when KEY_ENCRYPTION_SECRET is set. */
  private_key: string
  created_at: Timestamp
  retired_at: NullableTimestamp
}

export interface ApiTokensTable {
  id: string
  user_id: string
  name: string
  token_hash: string
  /** Space-separated scopes. */
  scopes: string
  created_at: Timestamp
  expires_at: NullableTimestamp
  revoked_at: NullableTimestamp
}

export interface IdentitiesTable {
  issuer: string
  subject: string
  user_id: string
  created_at: Timestamp
}

export interface LoginAttemptsTable {
  key: string
  failures: number
  /** Epoch milliseconds (bigint on PostgreSQL, read back as a string). */
  window_started_ms: ColumnType<number | string, number, number>
  locked_until_ms: ColumnType<number | string, number, number>
}

export interface AuditEventsTable {
  id: string
  at: Timestamp
  actor_id: string | null
  action: string
  target_type: string | null
  target_id: string | null
  address: string | null
  request_id: string | null
  /** JSON object. */
  details: string
}

export interface EventsTable {
  id: ColumnType<number, never, never>
  /** PostgreSQL only: the writing transaction (xid8, read as text); absent on SQLite. */
  xid?: ColumnType<string, never, never>
  type: string
  task_id: string
  owner_id: string
  /** The delivery body, JSON: { type, timestamp, data: { task } }. */
  payload: string
  created_at: Timestamp
}

export interface WebhooksTable {
  id: string
  owner_id: string
  url: string
  description: string
  /** JSON array of subscribed event types. */
  events: string
  secret: string
  enabled: ColumnType<boolean | number, boolean, boolean>
  disabled_reason: string | null
  consecutive_failures: number
  created_at: Timestamp
  updated_at: Timestamp
}

export interface WebhookDeliveriesTable {
  id: string
  webhook_id: string
  event_id: number
  event_type: string
  status: 'pending' | 'succeeded' | 'failed'
  attempts: number
  next_attempt_at: NullableTimestamp
  lease_until: NullableTimestamp
  leased_by: string | null
  last_attempt_at: NullableTimestamp
  last_response_status: number | null
  last_error: string | null
  created_at: Timestamp
  updated_at: Timestamp
}

/** Exact task counts by owner ('*' = all), deleted (0/1), status and priority; maintained by triggers (migration 0003). */
export interface TaskCountsTable {
  scope: string
  deleted: number
  status: string
  priority: number
  slot: number
  n: ColumnType<number | string, number, number>
}

/** task_counts per tag (follows tasks.tags); maintained by triggers (migration 0003). */
export interface TaskTagCountsTable extends TaskCountsTable {
  tag: string
}

export interface Schema {
  users: UsersTable
  refresh_tokens: RefreshTokensTable
  tasks: TasksTable
  task_tags: TaskTagsTable
  idempotency_keys: IdempotencyKeysTable
  signing_keys: SigningKeysTable
  api_tokens: ApiTokensTable
  identities: IdentitiesTable
  login_attempts: LoginAttemptsTable
  audit_events: AuditEventsTable
  events: EventsTable
  webhooks: WebhooksTable
  webhook_deliveries: WebhookDeliveriesTable
  task_counts: TaskCountsTable
  task_tag_counts: TaskTagCountsTable
}

// Authentication state that must be shared by every instance: signing keys,
// personal API tokens, external identities, login throttling and the audit log.
import { type Kysely, sql } from 'kysely'
import type { Engine } from '../database.ts'

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const statements = engine === 'postgres' ? postgres() : sqlite()
  for (const statement of statements) await statement.execute(db)
}

function sqlite() {
  return [
    sql`CREATE TABLE signing_keys (
      kid TEXT PRIMARY KEY,
      alg TEXT NOT NULL,
      public_jwk TEXT NOT NULL,
      private_key TEXT NOT NULL,
      created_at TEXT NOT NULL,
      retired_at TEXT
    )`,
    sql`CREATE TABLE api_tokens (
      id TEXT PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      name TEXT NOT NULL,
      token_hash TEXT NOT NULL UNIQUE,
      scopes TEXT NOT NULL,
      created_at TEXT NOT NULL,
      expires_at TEXT,
      revoked_at TEXT
    )`,
    sql`CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at)`,
    sql`CREATE TABLE identities (
      issuer TEXT NOT NULL,
      subject TEXT NOT NULL,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      created_at TEXT NOT NULL,
      PRIMARY KEY (issuer, subject)
    )`,
    sql`CREATE TABLE login_attempts (
      key TEXT PRIMARY KEY,
      failures INTEGER NOT NULL,
      window_started_ms INTEGER NOT NULL,
      locked_until_ms INTEGER NOT NULL
    )`,
    sql`CREATE TABLE audit_events (
      id TEXT PRIMARY KEY,
      at TEXT NOT NULL,
      actor_id TEXT,
      action TEXT NOT NULL,
      target_type TEXT,
      target_id TEXT,
      address TEXT,
      request_id TEXT,
      details TEXT NOT NULL DEFAULT '{}'
    )`,
    sql`CREATE INDEX audit_events_at ON audit_events (at, id)`,
    sql`CREATE INDEX audit_events_actor_at ON audit_events (actor_id, at)`,
    sql`CREATE INDEX audit_events_action_at ON audit_events (action, at)`,
  ]
}

function postgres() {
  return [
    sql`CREATE TABLE signing_keys (
      kid text PRIMARY KEY,
      alg text NOT NULL,
      public_jwk text NOT NULL,
      private_key text NOT NULL,
      created_at timestamptz NOT NULL,
      retired_at timestamptz
    )`,
    sql`CREATE TABLE api_tokens (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      name text NOT NULL,
      token_hash text NOT NULL UNIQUE,
      scopes text NOT NULL,
      created_at timestamptz NOT NULL,
      expires_at timestamptz,
      revoked_at timestamptz
    )`,
    sql`CREATE INDEX api_tokens_user ON api_tokens (user_id, created_at)`,
    sql`CREATE TABLE identities (
      issuer text NOT NULL,
      subject text NOT NULL,
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      created_at timestamptz NOT NULL,
      PRIMARY KEY (issuer, subject)
    )`,
    sql`CREATE TABLE login_attempts (
      key text PRIMARY KEY,
      failures integer NOT NULL,
      window_started_ms bigint NOT NULL,
      locked_until_ms bigint NOT NULL
    )`,
    sql`CREATE TABLE audit_events (
      id uuid PRIMARY KEY,
      at timestamptz NOT NULL,
      actor_id uuid,
      action text NOT NULL,
      target_type text,
      target_id text,
      address text,
      request_id text,
      details text NOT NULL DEFAULT '{}'
    )`,
    sql`CREATE INDEX audit_events_at ON audit_events (at, id)`,
    sql`CREATE INDEX audit_events_actor_at ON audit_events (actor_id, at)`,
    sql`CREATE INDEX audit_events_action_at ON audit_events (action, at)`,
  ]
}

// Users, refresh tokens, tasks (with tags and full-text search), idempotency keys.
import { type Kysely, sql } from 'kysely'
import type { Engine } from '../database.ts'

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const statements = engine === 'postgres' ? postgres() : sqlite()
  for (const statement of statements) await statement.execute(db)
}

function sqlite() {
  return [
    sql`CREATE TABLE users (
      id TEXT PRIMARY KEY,
      email TEXT NOT NULL UNIQUE,
      name TEXT NOT NULL,
      password_hash TEXT,
      role TEXT NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL
    )`,
    sql`CREATE TABLE refresh_tokens (
      id TEXT PRIMARY KEY,
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      family_id TEXT NOT NULL,
      token_hash TEXT NOT NULL UNIQUE,
      created_at TEXT NOT NULL,
      expires_at TEXT NOT NULL,
      used_at TEXT,
      revoked_at TEXT
    )`,
    sql`CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)`,
    sql`CREATE TABLE tasks (
      id TEXT PRIMARY KEY,
      owner_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      title TEXT NOT NULL,
      description TEXT NOT NULL DEFAULT '',
      status TEXT NOT NULL CHECK (status IN ('todo', 'doing', 'done')),
      priority INTEGER NOT NULL CHECK (priority BETWEEN 0 AND 3),
      due_at TEXT,
      tags TEXT NOT NULL DEFAULT '[]',
      created_at TEXT NOT NULL,
      updated_at TEXT NOT NULL,
      deleted_at TEXT,
      version INTEGER NOT NULL DEFAULT 1
    )`,
    sql`CREATE INDEX tasks_live_created ON tasks (created_at, id) WHERE deleted_at IS NULL`,
    sql`CREATE INDEX tasks_live_status_created ON tasks (status, created_at, id) WHERE deleted_at IS NULL`,
    sql`CREATE INDEX tasks_owner_created ON tasks (owner_id, created_at, id)`,
    sql`CREATE INDEX tasks_live_due ON tasks (due_at, id) WHERE deleted_at IS NULL`,
    sql`CREATE INDEX tasks_deleted ON tasks (deleted_at) WHERE deleted_at IS NOT NULL`,
    sql`CREATE TABLE task_tags (
      task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
      tag TEXT NOT NULL,
      PRIMARY KEY (task_id, tag)
    ) WITHOUT ROWID`,
    sql`CREATE INDEX task_tags_tag ON task_tags (tag, task_id)`,
    // External-content FTS5 index over title and description, kept in step by triggers.
    sql`CREATE VIRTUAL TABLE tasks_fts USING fts5(
      title, description, content='tasks', content_rowid='rowid', tokenize='unicode61 remove_diacritics 2'
    )`,
    sql`CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks BEGIN
      INSERT INTO tasks_fts(rowid, title, description) VALUES (new.rowid, new.title, new.description);
    END`,
    sql`CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks BEGIN
      INSERT INTO tasks_fts(tasks_fts, rowid, title, description) VALUES ('delete', old.rowid, old.title, old.description);
    END`,
    sql`CREATE TRIGGER tasks_fts_update AFTER UPDATE OF title, description ON tasks BEGIN
      INSERT INTO tasks_fts(tasks_fts, rowid, title, description) VALUES ('delete', old.rowid, old.title, old.description);
      INSERT INTO tasks_fts(rowid, title, description) VALUES (new.rowid, new.title, new.description);
    END`,
    sql`CREATE TABLE idempotency_keys (
      user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      key TEXT NOT NULL,
      request_hash TEXT NOT NULL,
      state TEXT NOT NULL CHECK (state IN ('in_progress', 'completed')),
      status_code INTEGER,
      response_body TEXT,
      location TEXT,
      created_at TEXT NOT NULL,
      expires_at TEXT NOT NULL,
      PRIMARY KEY (user_id, key)
    )`,
    sql`CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at)`,
  ]
}

function postgres() {
  return [
    sql`CREATE TABLE users (
      id uuid PRIMARY KEY,
      email text NOT NULL UNIQUE,
      name text NOT NULL,
      password_hash text,
      role text NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL
    )`,
    sql`CREATE TABLE refresh_tokens (
      id uuid PRIMARY KEY,
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      family_id uuid NOT NULL,
      token_hash text NOT NULL UNIQUE,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      used_at timestamptz,
      revoked_at timestamptz
    )`,
    sql`CREATE INDEX refresh_tokens_family ON refresh_tokens (family_id)`,
    sql`CREATE TABLE tasks (
      id uuid PRIMARY KEY,
      owner_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      title text NOT NULL,
      description text NOT NULL DEFAULT '',
      status text NOT NULL CHECK (status IN ('todo', 'doing', 'done')),
      priority smallint NOT NULL CHECK (priority BETWEEN 0 AND 3),
      due_at timestamptz,
      tags jsonb NOT NULL DEFAULT '[]'::jsonb,
      created_at timestamptz NOT NULL,
      updated_at timestamptz NOT NULL,
      deleted_at timestamptz,
      version integer NOT NULL DEFAULT 1,
      search tsvector GENERATED ALWAYS AS (to_tsvector('simple', title || ' ' || description)) STORED
    )`,
    sql`CREATE INDEX tasks_live_created ON tasks (created_at, id) WHERE deleted_at IS NULL`,
    sql`CREATE INDEX tasks_live_status_created ON tasks (status, created_at, id) WHERE deleted_at IS NULL`,
    sql`CREATE INDEX tasks_owner_created ON tasks (owner_id, created_at, id)`,
    sql`CREATE INDEX tasks_live_due ON tasks (due_at, id) WHERE deleted_at IS NULL`,
    sql`CREATE INDEX tasks_deleted ON tasks (deleted_at) WHERE deleted_at IS NOT NULL`,
    sql`CREATE INDEX tasks_search ON tasks USING gin (search)`,
    sql`CREATE TABLE task_tags (
      task_id uuid NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
      tag text NOT NULL,
      PRIMARY KEY (task_id, tag)
    )`,
    sql`CREATE INDEX task_tags_tag ON task_tags (tag, task_id)`,
    sql`CREATE TABLE idempotency_keys (
      user_id uuid NOT NULL REFERENCES users(id) ON DELETE CASCADE,
      key text NOT NULL,
      request_hash text NOT NULL,
      state text NOT NULL CHECK (state IN ('in_progress', 'completed')),
      status_code integer,
      response_body text,
      location text,
      created_at timestamptz NOT NULL,
      expires_at timestamptz NOT NULL,
      PRIMARY KEY (user_id, key)
    )`,
    sql`CREATE INDEX idempotency_keys_expires ON idempotency_keys (expires_at)`,
  ]
}

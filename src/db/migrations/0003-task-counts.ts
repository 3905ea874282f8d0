// Exact task counts without COUNT(*): counter tables keyed by the list filters
// that are cheap to count (owner, deleted or not, status, priority; and the same
// per tag), kept in step by triggers in the same transaction as every insert,
// update and delete (purge and cascades included). Tag counts follow the task's
// `tags` column, so only triggers on `tasks` are needed. See the README section
// "Counting tasks".
import { type Kysely, sql } from 'kysely'
import type { Engine } from '../database.ts'

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  const statements = engine === 'postgres' ? postgres() : sqlite()
  for (const statement of statements) await statement.execute(db)
}

// One row per (scope, deleted, status, priority, slot): scope is the owner id, or '*' for
// every owner, so an unfiltered total sums at most 2 × 3 × 4 × slots rows.
const KEY = sql`scope, deleted, status, priority, slot`

function sqlite() {
  // SQLite has one writer at a time, so a single slot (0) never contends.
  const bump = (row: 'new' | 'old', delta: 1 | -1, scope: 'owner' | 'all') => {
    const who = scope === 'owner' ? sql.raw(`${row}.owner_id`) : sql.lit('*')
    const r = sql.raw(row)
    return sql`INSERT INTO task_counts (${KEY}, n)
      VALUES (${who}, ${r}.deleted_at IS NOT NULL, ${r}.status, ${r}.priority, 0, ${sql.lit(delta)})
      ON CONFLICT (${KEY}) DO UPDATE SET n = n + excluded.n;`
  }
  const bumpTags = (row: 'new' | 'old', delta: 1 | -1, scope: 'owner' | 'all') => {
    const who = scope === 'owner' ? sql.raw(`${row}.owner_id`) : sql.lit('*')
    const r = sql.raw(row)
    // "WHERE true": SQLite's documented way to keep an upsert's SELECT unambiguous.
    return sql`INSERT INTO task_tag_counts (tag, ${KEY}, n)
      SELECT j.value, ${who}, ${r}.deleted_at IS NOT NULL, ${r}.status, ${r}.priority, 0, ${sql.lit(delta)}
      FROM json_each(${r}.tags) AS j WHERE true
      ON CONFLICT (tag, ${KEY}) DO UPDATE SET n = n + excluded.n;`
  }
  return [
    sql`CREATE TABLE task_tag_counts (
      tag TEXT NOT NULL,
      scope TEXT NOT NULL,
      deleted INTEGER NOT NULL,
      status TEXT NOT NULL,
      priority INTEGER NOT NULL,
      slot INTEGER NOT NULL,
      n INTEGER NOT NULL,
      PRIMARY KEY (tag, ${KEY})
    ) WITHOUT ROWID`,
    sql`INSERT INTO task_tag_counts (tag, ${KEY}, n)
      SELECT j.value, t.owner_id, t.deleted_at IS NOT NULL, t.status, t.priority, 0, COUNT(*)
      FROM tasks t, json_each(t.tags) j GROUP BY 1, 2, 3, 4, 5
      UNION ALL
      SELECT j.value, '*', t.deleted_at IS NOT NULL, t.status, t.priority, 0, COUNT(*)
      FROM tasks t, json_each(t.tags) j GROUP BY 1, 3, 4, 5`,
    sql`CREATE TRIGGER task_tag_counts_insert AFTER INSERT ON tasks BEGIN
      ${bumpTags('new', 1, 'owner')}
      ${bumpTags('new', 1, 'all')}
    END`,
    sql`CREATE TRIGGER task_tag_counts_delete AFTER DELETE ON tasks BEGIN
      ${bumpTags('old', -1, 'owner')}
      ${bumpTags('old', -1, 'all')}
    END`,
    sql`CREATE TRIGGER task_tag_counts_update AFTER UPDATE OF owner_id, status, priority, deleted_at, tags ON tasks
      WHEN old.owner_id IS NOT new.owner_id OR old.status IS NOT new.status OR old.priority IS NOT new.priority
        OR (old.deleted_at IS NULL) <> (new.deleted_at IS NULL) OR old.tags IS NOT new.tags
    BEGIN
      ${bumpTags('old', -1, 'owner')}
      ${bumpTags('old', -1, 'all')}
      ${bumpTags('new', 1, 'owner')}
      ${bumpTags('new', 1, 'all')}
    END`,
    sql`CREATE TABLE task_counts (
      scope TEXT NOT NULL,
      deleted INTEGER NOT NULL,
      status TEXT NOT NULL,
      priority INTEGER NOT NULL,
      slot INTEGER NOT NULL,
      n INTEGER NOT NULL,
      PRIMARY KEY (${KEY})
    ) WITHOUT ROWID`,
    sql`INSERT INTO task_counts (${KEY}, n)
      SELECT owner_id, deleted_at IS NOT NULL, status, priority, 0, COUNT(*) FROM tasks GROUP BY 1, 2, 3, 4
      UNION ALL
      SELECT '*', deleted_at IS NOT NULL, status, priority, 0, COUNT(*) FROM tasks GROUP BY 2, 3, 4`,
    sql`CREATE TRIGGER task_counts_insert AFTER INSERT ON tasks BEGIN
      ${bump('new', 1, 'owner')}
      ${bump('new', 1, 'all')}
    END`,
    sql`CREATE TRIGGER task_counts_delete AFTER DELETE ON tasks BEGIN
      ${bump('old', -1, 'owner')}
      ${bump('old', -1, 'all')}
    END`,
    sql`CREATE TRIGGER task_counts_update AFTER UPDATE OF owner_id, status, priority, deleted_at ON tasks
      WHEN old.owner_id IS NOT new.owner_id OR old.status IS NOT new.status OR old.priority IS NOT new.priority
        OR (old.deleted_at IS NULL) <> (new.deleted_at IS NULL)
    BEGIN
      ${bump('old', -1, 'owner')}
      ${bump('old', -1, 'all')}
      ${bump('new', 1, 'owner')}
      ${bump('new', 1, 'all')}
    END`,
  ]
}

function postgres() {
  return [
    sql`CREATE TABLE task_counts (
      scope text NOT NULL,
      deleted smallint NOT NULL,
      status text NOT NULL,
      priority smallint NOT NULL,
      slot smallint NOT NULL,
      n bigint NOT NULL,
      PRIMARY KEY (scope, deleted, status, priority, slot)
    ) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000)`,
    // The rows are few and hot: free space on each page keeps updates HOT (pruned in place,
    // no index churn) and autovacuum runs after a fixed number of updates, not a fraction of a tiny table.
    // Writers that run while this migration does (an older instance in a rolling deploy) wait
    // for it, so the backfill and the triggers see the same rows.
    sql`LOCK TABLE tasks IN SHARE ROW EXCLUSIVE MODE`,
    sql`INSERT INTO task_counts (${KEY}, n)
      SELECT owner_id::text, (deleted_at IS NOT NULL)::int, status, priority, 0, count(*) FROM tasks GROUP BY 1, 2, 3, 4
      UNION ALL
      SELECT '*', (deleted_at IS NOT NULL)::int, status, priority, 0, count(*) FROM tasks GROUP BY 2, 3, 4`,
    // Every writer bumps the '*' rows; spreading them over 16 slots chosen by backend (so one
    // connection always uses the same slot) keeps concurrent writers off one hot row. Rows are
    // upserted in key order in one statement so two writers never lock them in opposite orders.
    sql`CREATE FUNCTION task_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      s smallint := pg_backend_pid() % 16;
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.owner_id = NEW.owner_id AND OLD.status = NEW.status
         AND OLD.priority = NEW.priority AND (OLD.deleted_at IS NULL) = (NEW.deleted_at IS NULL) THEN
        RETURN NULL;
      END IF;
      INSERT INTO task_counts AS c (scope, deleted, status, priority, slot, n)
      SELECT d.scope, d.deleted, d.status, d.priority, s, sum(d.delta)
      FROM (
        SELECT v.scope, (OLD.deleted_at IS NOT NULL)::int AS deleted, OLD.status AS status,
               OLD.priority AS priority, -1 AS delta
        FROM (VALUES (OLD.owner_id::text), ('*')) AS v(scope) WHERE TG_OP <> 'INSERT'
        UNION ALL
        SELECT v.scope, (NEW.deleted_at IS NOT NULL)::int, NEW.status, NEW.priority, 1
        FROM (VALUES (NEW.owner_id::text), ('*')) AS v(scope) WHERE TG_OP <> 'DELETE'
      ) AS d
      GROUP BY d.scope, d.deleted, d.status, d.priority
      ORDER BY d.scope, d.deleted, d.status, d.priority
      ON CONFLICT (scope, deleted, status, priority, slot) DO UPDATE SET n = c.n + excluded.n;
      RETURN NULL;
    END
    $$`,
    sql`CREATE TRIGGER task_counts_change AFTER INSERT OR DELETE OR UPDATE OF owner_id, status, priority, deleted_at
      ON tasks FOR EACH ROW EXECUTE FUNCTION task_counts_apply()`,
    sql`CREATE TABLE task_tag_counts (
      tag text NOT NULL,
      scope text NOT NULL,
      deleted smallint NOT NULL,
      status text NOT NULL,
      priority smallint NOT NULL,
      slot smallint NOT NULL,
      n bigint NOT NULL,
      PRIMARY KEY (tag, scope, deleted, status, priority, slot)
    ) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000)`,
    sql`INSERT INTO task_tag_counts (tag, ${KEY}, n)
      SELECT j.tag, t.owner_id::text, (t.deleted_at IS NOT NULL)::int, t.status, t.priority, 0, count(*)
      FROM tasks t, jsonb_array_elements_text(t.tags) AS j(tag) GROUP BY 1, 2, 3, 4, 5
      UNION ALL
      SELECT j.tag, '*', (t.deleted_at IS NOT NULL)::int, t.status, t.priority, 0, count(*)
      FROM tasks t, jsonb_array_elements_text(t.tags) AS j(tag) GROUP BY 1, 3, 4, 5`,
    sql`CREATE FUNCTION task_tag_counts_apply() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      s smallint := pg_backend_pid() % 16;
    BEGIN
      IF TG_OP = 'UPDATE' AND OLD.owner_id = NEW.owner_id AND OLD.status = NEW.status
         AND OLD.priority = NEW.priority AND (OLD.deleted_at IS NULL) = (NEW.deleted_at IS NULL)
         AND OLD.tags = NEW.tags THEN
        RETURN NULL;
      END IF;
      INSERT INTO task_tag_counts AS c (tag, scope, deleted, status, priority, slot, n)
      SELECT d.tag, d.scope, d.deleted, d.status, d.priority, s, sum(d.delta)
      FROM (
        SELECT j.tag, v.scope, (OLD.deleted_at IS NOT NULL)::int AS deleted, OLD.status AS status,
               OLD.priority AS priority, -1 AS delta
        FROM jsonb_array_elements_text(CASE WHEN TG_OP <> 'INSERT' THEN OLD.tags ELSE '[]'::jsonb END) AS j(tag),
             (VALUES (OLD.owner_id::text), ('*')) AS v(scope)
        WHERE TG_OP <> 'INSERT'
        UNION ALL
        SELECT j.tag, v.scope, (NEW.deleted_at IS NOT NULL)::int, NEW.status, NEW.priority, 1
        FROM jsonb_array_elements_text(CASE WHEN TG_OP <> 'DELETE' THEN NEW.tags ELSE '[]'::jsonb END) AS j(tag),
             (VALUES (NEW.owner_id::text), ('*')) AS v(scope)
        WHERE TG_OP <> 'DELETE'
      ) AS d
      GROUP BY d.tag, d.scope, d.deleted, d.status, d.priority
      HAVING sum(d.delta) <> 0
      ORDER BY d.tag, d.scope, d.deleted, d.status, d.priority
      ON CONFLICT (tag, scope, deleted, status, priority, slot) DO UPDATE SET n = c.n + excluded.n;
      RETURN NULL;
    END
    $$`,
    sql`CREATE TRIGGER task_tag_counts_change AFTER INSERT OR DELETE OR UPDATE OF owner_id, status, priority, deleted_at, tags
      ON tasks FOR EACH ROW EXECUTE FUNCTION task_tag_counts_apply()`,
  ]
}

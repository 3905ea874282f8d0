// Tag listings in creation order read a page, not the table. A tag filter was an
// EXISTS probe on every task walked in creation order, so a tag missing from
// recent tasks walked all of them: 30-38 ms for a tag no task carries at 100k
// tasks on SQLite (the event loop blocked for all of it), growing with the table. Each
// tag row now carries its task's creation time (which never changes), and the
// index on (tag, created_at, task_id) hands out a tag's tasks in creation order,
// so the first page of any tag reads about a page of rows.
import { type Kysely, sql } from 'kysely'
import type { Engine } from '../database.ts'

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  if (engine === 'postgres') {
    // One transaction (Kysely runs PostgreSQL migrations in one), so all or nothing. The copy and
    // the index read every tag row: no statement timeout here, whatever the pool's.
    for (const statement of [
      sql`SET LOCAL statement_timeout = 0`,
      sql`ALTER TABLE task_tags ADD COLUMN created_at timestamptz`,
      sql`UPDATE task_tags SET created_at = tasks.created_at FROM tasks WHERE tasks.id = task_tags.task_id`,
      sql`ALTER TABLE task_tags ALTER COLUMN created_at SET NOT NULL`,
      // Instances still running the previous version (a rolling deployment) write tag rows
      // without the time: it is filled in for them, from the task when it is already there and
      // otherwise (a create's task and tags in one statement) with the transaction's start,
      // the same moment to a few milliseconds. This version always writes it.
      sql.raw(`CREATE FUNCTION task_tags_fill_created_at() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          NEW.created_at := COALESCE((SELECT created_at FROM tasks WHERE id = NEW.task_id), now());
          RETURN NEW;
        END $$`),
      sql`CREATE TRIGGER task_tags_fill_created_at BEFORE INSERT ON task_tags
        FOR EACH ROW WHEN (NEW.created_at IS NULL) EXECUTE FUNCTION task_tags_fill_created_at()`,
      sql`DROP INDEX task_tags_tag`,
      sql`CREATE INDEX task_tags_tag_created ON task_tags (tag, created_at, task_id)`,
      sql`ANALYZE task_tags`,
    ])
      await statement.execute(db)
    return
  }
  // SQLite adds a NOT NULL column only with a default, which would stay; the small table is
  // rebuilt instead, in one transaction (Kysely runs SQLite migrations outside one).
  await db.transaction().execute(async (trx) => {
    for (const statement of [
      sql`CREATE TABLE task_tags_0006 (
        task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
        tag TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (task_id, tag)
      ) WITHOUT ROWID`,
      sql`INSERT INTO task_tags_0006 (task_id, tag, created_at)
        SELECT task_tags.task_id, task_tags.tag, tasks.created_at FROM task_tags JOIN tasks ON tasks.id = task_tags.task_id`,
      sql`DROP TABLE task_tags`,
      sql`ALTER TABLE task_tags_0006 RENAME TO task_tags`,
      sql`CREATE INDEX task_tags_tag_created ON task_tags (tag, created_at, task_id)`,
    ])
      await statement.execute(trx)
  })
}

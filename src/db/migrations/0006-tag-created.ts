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
  const statements =
    engine === 'postgres'
      ? [
          sql`ALTER TABLE task_tags ADD COLUMN created_at timestamptz`,
          sql`UPDATE task_tags SET created_at = tasks.created_at FROM tasks WHERE tasks.id = task_tags.task_id`,
          sql`ALTER TABLE task_tags ALTER COLUMN created_at SET NOT NULL`,
          sql`DROP INDEX task_tags_tag`,
          sql`CREATE INDEX task_tags_tag_created ON task_tags (tag, created_at, task_id)`,
          sql`ANALYZE task_tags`,
        ]
      : [
          // SQLite adds a NOT NULL column only with a default; every row gets its real value next.
          sql`ALTER TABLE task_tags ADD COLUMN created_at TEXT NOT NULL DEFAULT ''`,
          sql`UPDATE task_tags SET created_at = (SELECT created_at FROM tasks WHERE tasks.id = task_tags.task_id)`,
          sql`DROP INDEX task_tags_tag`,
          sql`CREATE INDEX task_tags_tag_created ON task_tags (tag, created_at, task_id)`,
        ]
  for (const statement of statements) await statement.execute(db)
}

// Full-text search that answers from its own index (SQLite). The first index
// (0001) only knew title and description, so every search joined each match
// back to `tasks` to drop deleted ones: one random row read per match, 13 ms
// to count 15k matches of a common word at 100k tasks, 27 ms to rank them.
// This index also carries the task's state ('live' or 'deleted') as a third
// column, so the default search (deleted excluded) counts and ranks inside the
// index and reads only the page's rows from `tasks`.
//
// Contentless with contentless_delete (SQLite ≥ 3.43): the index holds no copy
// of the text, and a row is removed by rowid without supplying its old values.
// The third column is weighted 0 in bm25 (see tasks/list-repository.ts), so ranking is by
// title and description as before.
//
// PostgreSQL is unchanged: its search is a tsvector column with a GIN index.
import { type Kysely, sql } from 'kysely'
import type { Engine } from '../database.ts'

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  if (engine !== 'sqlite') return
  const state = (row: 'new' | 'old') =>
    sql.raw(`CASE WHEN ${row}.deleted_at IS NULL THEN 'live' ELSE 'deleted' END`)
  const statements = [
    sql`DROP TRIGGER tasks_fts_insert`,
    sql`DROP TRIGGER tasks_fts_delete`,
    sql`DROP TRIGGER tasks_fts_update`,
    sql`DROP TABLE tasks_fts`,
    sql`CREATE VIRTUAL TABLE tasks_fts USING fts5(
      title, description, state,
      content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2'
    )`,
    sql`INSERT INTO tasks_fts (rowid, title, description, state)
      SELECT rowid, title, description, CASE WHEN deleted_at IS NULL THEN 'live' ELSE 'deleted' END FROM tasks`,
    sql`CREATE TRIGGER tasks_fts_insert AFTER INSERT ON tasks BEGIN
      INSERT INTO tasks_fts (rowid, title, description, state)
        VALUES (new.rowid, new.title, new.description, ${state('new')});
    END`,
    sql`CREATE TRIGGER tasks_fts_delete AFTER DELETE ON tasks BEGIN
      DELETE FROM tasks_fts WHERE rowid = old.rowid;
    END`,
    // Only when what the index holds changed: a PATCH of status or tags leaves it alone.
    sql`CREATE TRIGGER tasks_fts_update AFTER UPDATE OF title, description, deleted_at ON tasks
      WHEN old.title IS NOT new.title OR old.description IS NOT new.description
        OR (old.deleted_at IS NULL) IS NOT (new.deleted_at IS NULL)
    BEGIN
      DELETE FROM tasks_fts WHERE rowid = old.rowid;
      INSERT INTO tasks_fts (rowid, title, description, state)
        VALUES (new.rowid, new.title, new.description, ${state('new')});
    END`,
  ]
  for (const statement of statements) await statement.execute(db)
}

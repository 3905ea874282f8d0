import { DatabaseSync } from 'node:sqlite'
const db = new DatabaseSync('/tmp/bdb2.db')
db.exec('PRAGMA cache_size=-16384')
if (!db.prepare("select 1 from sqlite_master where name='s2'").get()) {
  const t0 = performance.now()
  db.exec(`CREATE VIRTUAL TABLE s2 USING fts5(title, description, state, content='', contentless_delete=1, tokenize='unicode61 remove_diacritics 2');
  INSERT INTO s2(rowid, title, description, state) SELECT rowid, title, description, CASE WHEN deleted_at IS NULL THEN 'live' ELSE 'deleted' END FROM tasks;
  INSERT INTO s2(s2) VALUES('optimize');`)
  console.log('built', performance.now() - t0)
}
const word = process.argv[2] ?? 'invoice'
const m = `"${word}"*`
const time = (label: string, sql: string, ...p: any[]) => {
  const st = db.prepare(sql)
  let r: any = st.all(...p)
  const t0 = performance.now()
  const N = 20
  for (let i = 0; i < N; i++) r = st.all(...p)
  console.log(label.padEnd(30), ((performance.now() - t0) / N).toFixed(2), 'ms', r.length, JSON.stringify(r[0]).slice(0, 80))
}
time('count live AND', 'SELECT count(*) n FROM s2 WHERE s2 MATCH ?', `state : live AND (${m})`)
time('count NOT deleted', 'SELECT count(*) n FROM s2 WHERE s2 MATCH ?', `(${m}) NOT state : deleted`)
time('count all', 'SELECT count(*) n FROM s2 WHERE s2 MATCH ?', m)
time('top NOT deleted', 'SELECT rowid r, bm25(s2, 1.0, 1.0, 0.0) s FROM s2 WHERE s2 MATCH ? ORDER BY s, r LIMIT 21', `(${m}) NOT state : deleted`)
time('top live AND', 'SELECT rowid r, bm25(s2, 1.0, 1.0, 0.0) s FROM s2 WHERE s2 MATCH ? ORDER BY s, r LIMIT 21', `state : live AND (${m})`)
time('page', 'SELECT tasks.id, tasks.title, f.s FROM (SELECT rowid r, bm25(s2, 1.0, 1.0, 0.0) s FROM s2 WHERE s2 MATCH ? ORDER BY s, r LIMIT 21 OFFSET 0) f JOIN tasks ON tasks.rowid = f.r ORDER BY f.s, f.r', `(${m}) NOT state : deleted`)
time('old page', 'SELECT tasks.id, tasks.title FROM tasks JOIN (SELECT rowid AS fts_rowid, rank AS fts_rank FROM tasks_fts WHERE tasks_fts MATCH ?) fts ON fts.fts_rowid = tasks.rowid WHERE tasks.deleted_at IS NULL ORDER BY fts.fts_rank ASC, tasks.id LIMIT 21', m)
time('old count', 'SELECT count(*) n FROM tasks JOIN (SELECT rowid AS r FROM tasks_fts WHERE tasks_fts MATCH ?) f ON f.r = tasks.rowid WHERE tasks.deleted_at IS NULL', m)

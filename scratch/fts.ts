import { DatabaseSync } from 'node:sqlite'
const db = new DatabaseSync('/tmp/bdb/task-tracker.db')
db.exec('PRAGMA cache_size=-16384')
const word = process.argv[2] ?? 'invoice'
const m = `"${word}"*`
const time = (label: string, sql: string, ...p: any[]) => {
  const st = db.prepare(sql)
  let r: any
  const t0 = performance.now()
  const N = 5
  for (let i = 0; i < N; i++) r = st.all(...p)
  console.log(label.padEnd(30), ((performance.now() - t0) / N).toFixed(2), 'ms', JSON.stringify(r[0]).slice(0, 80))
}
console.log(db.prepare('select sqlite_version() v').get())
time('fts count', 'SELECT count(*) n FROM tasks_fts WHERE tasks_fts MATCH ?', m)
time('fts top rank', 'SELECT rowid, rank FROM tasks_fts WHERE tasks_fts MATCH ? ORDER BY rank LIMIT 21', m)
time('fts top rank,rowid', 'SELECT rowid, rank FROM tasks_fts WHERE tasks_fts MATCH ? ORDER BY rank, rowid LIMIT 21', m)
time('fts top bm25()', 'SELECT rowid, bm25(tasks_fts) r FROM tasks_fts WHERE tasks_fts MATCH ? ORDER BY r, rowid LIMIT 21', m)
time('join count', 'SELECT count(*) n FROM tasks JOIN (SELECT rowid AS r FROM tasks_fts WHERE tasks_fts MATCH ?) f ON f.r = tasks.rowid WHERE tasks.deleted_at IS NULL', m)
time('service page', 'SELECT tasks.id, tasks.title FROM tasks JOIN (SELECT rowid AS fts_rowid, rank AS fts_rank FROM tasks_fts WHERE tasks_fts MATCH ?) fts ON fts.fts_rowid = tasks.rowid WHERE tasks.deleted_at IS NULL ORDER BY fts.fts_rank ASC, tasks.id LIMIT 21', m)

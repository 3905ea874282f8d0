import { DatabaseSync } from 'node:sqlite'
const db = new DatabaseSync('/tmp/bdb2.db')
db.exec('PRAGMA cache_size=-16384')
if (!db.prepare("select 1 from sqlite_master where name='s3'").get()) {
  db.exec(`CREATE VIRTUAL TABLE s3 USING fts5(title, description, state, content='', contentless_delete=1, detail=column, tokenize='unicode61 remove_diacritics 2');
  INSERT INTO s3(rowid, title, description, state) SELECT rowid, title, description, CASE WHEN deleted_at IS NULL THEN 'live' ELSE 'deleted' END FROM tasks;
  INSERT INTO s3(s3) VALUES('optimize');`)
}
const word = process.argv[2] ?? 'invoice'
const time = (label: string, sql: string, ...p: any[]) => {
  const st = db.prepare(sql)
  let r: any = st.all(...p)
  const t0 = performance.now()
  const N = 20
  for (let i = 0; i < N; i++) r = st.all(...p)
  console.log(label.padEnd(30), ((performance.now() - t0) / N).toFixed(2), 'ms', r.length, JSON.stringify(r[0]).slice(0, 80))
}
for (const t of ['s2', 's3']) for (const m of [`"${word}"*`, `"${word}"`]) {
  time(`${t} top ${m}`, `SELECT rowid r, bm25(${t}, 1.0, 1.0, 0.0) s FROM ${t} WHERE ${t} MATCH ? ORDER BY s, r LIMIT 21`, `(${m}) NOT state : deleted`)
  time(`${t} count ${m}`, `SELECT count(*) FROM ${t} WHERE ${t} MATCH ?`, `(${m}) NOT state : deleted`)
}
const st = db.prepare(`SELECT rowid r FROM s2 WHERE s2 MATCH ? ORDER BY bm25(s2, 1.0, 1.0, 0.0), rowid LIMIT 200`).all(`("${word}"*) NOT state : deleted`).map((x: any) => x.r)
const st3 = db.prepare(`SELECT rowid r FROM s3 WHERE s3 MATCH ? ORDER BY bm25(s3, 1.0, 1.0, 0.0), rowid LIMIT 200`).all(`("${word}"*) NOT state : deleted`).map((x: any) => x.r)
console.log('same top200 order:', JSON.stringify(st) === JSON.stringify(st3), 'overlap', st.filter((x: any) => st3.includes(x)).length)

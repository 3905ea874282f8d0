import { DatabaseSync } from 'node:sqlite'
import { SEARCH_WORDS } from '/work/main/bench/data.ts'
const db = new DatabaseSync('/tmp/bdb2.db')
for (const w of SEARCH_WORDS) {
  const m = `{title description} : ("${w}"*) NOT state : deleted`
  const t0 = performance.now()
  const n = db.prepare('SELECT count(*) n FROM s2 WHERE s2 MATCH ?').get(m) as any
  const r = db.prepare('SELECT rowid r, bm25(s2,1.0,1.0,0.0) s FROM s2 WHERE s2 MATCH ? ORDER BY s, r LIMIT 21').all(m)
  console.log(w.padEnd(12), n.n, (performance.now() - t0).toFixed(1), 'ms')
}

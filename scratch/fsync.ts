import { DatabaseSync } from 'node:sqlite'
for (const mode of ['FULL', 'NORMAL']) {
  const db = new DatabaseSync('/tmp/bdb3/task-tracker.db')
  db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=${mode}; PRAGMA busy_timeout=5000`)
  const st = db.prepare('INSERT INTO events (type, task_id, owner_id, payload, created_at) VALUES (?,?,?,?,?)')
  const N = 500
  const t0 = performance.now()
  for (let i = 0; i < N; i++) {
    db.exec('BEGIN IMMEDIATE')
    st.run('task.created', 'x', 'y', '{}', new Date().toISOString())
    db.exec('COMMIT')
  }
  console.log(mode, ((performance.now() - t0) * 1000 / N).toFixed(0), 'µs per tiny commit')
  db.exec("DELETE FROM events WHERE task_id='x'")
  db.close()
}

import { DatabaseSync } from 'node:sqlite'
import { v7 } from 'uuid'
const db = new DatabaseSync('/tmp/bdb3/task-tracker.db')
db.exec(`PRAGMA journal_mode=WAL; PRAGMA synchronous=${process.argv[2] ?? 'FULL'}; PRAGMA busy_timeout=5000; PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384`)
const owner = (db.prepare('select id from users limit 1').get() as any).id
const insT = db.prepare(`insert into "tasks" ("id", "owner_id", "title", "description", "status", "priority", "due_at", "tags", "created_at", "updated_at", "deleted_at", "version") values (?,?,?,?,?,?,?,?,?,?,?,?)`)
const insTag = db.prepare(`insert into "task_tags" ("task_id", "tag") values (?, ?), (?, ?)`)
const insE = db.prepare(`insert into "events" ("type", "task_id", "owner_id", "payload", "created_at") values (?, ?, ?, ?, ?) returning "id"`)
const selW = db.prepare(`select "id", "events" from "webhooks" where "enabled" = ?`)
const N = 1000
const parts = { begin: 0, task: 0, tags: 0, event: 0, hooks: 0, commit: 0 }
const t0 = performance.now()
for (let i = 0; i < N; i++) {
  const id = v7(); const now = new Date().toISOString()
  let t = performance.now()
  db.exec('BEGIN IMMEDIATE'); parts.begin += performance.now() - t; t = performance.now()
  insT.run(id, owner, `Bench task ${i}: review the invoice export`, 'Created by the benchmark harness to measure the create path.', 'todo', 2, now, '["bench","backend"]', now, now, null, 1); parts.task += performance.now() - t; t = performance.now()
  insTag.run(id, 'bench', id, 'backend'); parts.tags += performance.now() - t; t = performance.now()
  insE.all('task.created', id, owner, JSON.stringify({ id, title: 'x' }), now); parts.event += performance.now() - t; t = performance.now()
  selW.all(1); parts.hooks += performance.now() - t; t = performance.now()
  db.exec('COMMIT'); parts.commit += performance.now() - t
}
console.log('per create µs', ((performance.now() - t0) * 1000 / N).toFixed(0), Object.fromEntries(Object.entries(parts).map(([k, v]) => [k, Math.round(v * 1000 / N)])))

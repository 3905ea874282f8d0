import { Kysely } from 'kysely'
import { openSqlite } from '/work/main/src/db/sqlite.ts'
import { TaskService } from '/work/main/src/tasks/service.ts'
import { parseListQuery } from '/work/main/src/tasks/list-query.ts'
import { noEventRecorder } from '/work/main/src/events/recorder.ts'
import { systemClock } from '/work/main/src/time.ts'
import { readFileSync } from 'node:fs'
const seeded = JSON.parse(readFileSync('/tmp/bdb/seeded.json', 'utf8'))
const { dialect, raw } = openSqlite('/tmp/bdb')
const captured: any[] = []
const db = new Kysely<any>({ dialect, log: (e: any) => { if (e.level === 'query') captured.push(e) } })
const database: any = { db, engine: 'sqlite', ping: async () => {}, poolStats: () => undefined, close: () => db.destroy() }
const service = new TaskService({ database, clock: systemClock, events: noEventRecorder, requireIfMatch: false })
const principal: any = { userId: seeded.benchUser.id, role: 'user', scopes: new Set(['tasks:read']), via: 'session' }
const args = process.argv.slice(2)
const query = Object.fromEntries(new URLSearchParams(args[0] ?? 'status=todo'))
for (let i = 0; i < 50; i++) await service.list(principal, parseListQuery(query, principal.userId))
captured.length = 0
const N = Number(args[1] ?? 500)
const t0 = performance.now()
for (let i = 0; i < N; i++) await service.list(principal, parseListQuery(query, principal.userId))
const t1 = performance.now()
console.log('service.list µs', ((t1 - t0) * 1000 / N).toFixed(1))
const per = new Map<string, number>()
for (const e of captured) per.set(e.query.sql, (per.get(e.query.sql) ?? 0) + e.queryDurationMillis)
for (const [s, ms] of per) console.log((ms * 1000 / N).toFixed(1), 'µs', s.slice(0, 300))
// raw replay
for (const [s] of per) {
  const q = captured.find((e) => e.query.sql === s).query
  const st = raw.prepare(s)
  const t2 = performance.now()
  for (let i = 0; i < N; i++) st.all(...q.parameters)
  console.log('raw', ((performance.now() - t2) * 1000 / N).toFixed(1), 'µs')
  if (process.env.PLAN) console.log(raw.prepare('EXPLAIN QUERY PLAN ' + s).all(...q.parameters).map((r: any) => r.detail).join('\n'))
}

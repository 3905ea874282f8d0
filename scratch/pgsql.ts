import { Kysely } from 'kysely'
import { openPostgres } from '/work/main/src/db/postgres.ts'
import { TaskService } from '/work/main/src/tasks/service.ts'
import { parseListQuery } from '/work/main/src/tasks/list-query.ts'
import { noEventRecorder } from '/work/main/src/events/recorder.ts'
import { systemClock } from '/work/main/src/time.ts'
import { readFileSync } from 'node:fs'
const seeded = JSON.parse(readFileSync('/tmp/pgb/seeded.json', 'utf8'))
const { dialect } = openPostgres({ url: seeded.url, poolMax: 2, connectTimeoutMs: 2000, statementTimeoutMs: 5000 })
const captured: any[] = []
const db = new Kysely<any>({ dialect, log: (e: any) => { if (e.level === 'query') captured.push(e.query) } })
const database: any = { db, engine: 'postgres', ping: async () => {}, poolStats: () => undefined, close: () => db.destroy() }
const service = new TaskService({ database, clock: systemClock, events: noEventRecorder, requireIfMatch: false })
const principal: any = { userId: seeded.benchUser.id, role: 'user', scopes: new Set(['tasks:read']), via: 'session' }
await service.list(principal, parseListQuery({ status: 'todo' }, principal.userId))
for (const q of captured) console.log(q.sql, JSON.stringify(q.parameters))
await db.destroy()

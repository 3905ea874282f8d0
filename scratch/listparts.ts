import { CompiledQuery, Kysely, sql } from 'kysely'
import { openSqlite } from '/work/main/src/db/sqlite.ts'
import { listTasks, toTask } from '/work/main/src/tasks/repository.ts'
import { parseListQuery } from '/work/main/src/tasks/list-query.ts'
import { readFileSync } from 'node:fs'
const seeded = JSON.parse(readFileSync('/tmp/bdb/seeded.json', 'utf8'))
const { dialect, raw } = openSqlite('/tmp/bdb')
const db = new Kysely<any>({ dialect })
const viewer = { userId: seeded.benchUser.id, seesAllDeleted: false }
const N = 5000
async function time(label: string, fn: () => unknown) {
  for (let i = 0; i < 200; i++) await fn()
  const t0 = performance.now()
  for (let i = 0; i < N; i++) await fn()
  console.log(label.padEnd(28), ((performance.now() - t0) * 1000 / N).toFixed(1), 'µs')
}
const plan = () => parseListQuery({ status: 'todo' }, viewer.userId)
await time('parseListQuery', plan)
await time('listTasks', () => listTasks(db, 'sqlite', plan(), viewer))
const listSql = `SELECT "tasks"."id", "tasks"."owner_id", "tasks"."title", "tasks"."description", "tasks"."status", "tasks"."priority", "tasks"."due_at", "tasks"."tags", "tasks"."created_at", "tasks"."updated_at", "tasks"."deleted_at", "tasks"."version", tasks.created_at AS "k_created", tasks.id AS "k_id" FROM tasks WHERE tasks.deleted_at IS NULL AND tasks.status IN (?) ORDER BY tasks.created_at DESC, tasks.id DESC LIMIT ? OFFSET ?`
const st = raw.prepare(listSql)
await time('raw list', () => st.all('todo', 21, 0))
const rows = st.all('todo', 21, 0) as any[]
await time('toTask x20', () => rows.slice(0, 20).map(toTask))
await time('kysely executeQuery compiled', () => db.executeQuery(CompiledQuery.raw(listSql, ['todo', 21, 0])))
await time('kysely sql template build+compile', () => sql`SELECT ${sql.join(['a','b','c','d','e','f','g','h','i','j','k','l'].map((c) => sql.ref(`tasks.${c}`)))} FROM tasks WHERE ${sql.join([sql`tasks.deleted_at IS NULL`, sql`tasks.status IN (${sql.join(['todo'])})`], sql` AND `)} ORDER BY tasks.created_at DESC LIMIT ${21} OFFSET ${0}`.compile(db))
const items = rows.slice(0, 20).map(toTask)
await time('JSON.stringify page', () => JSON.stringify({ items, page: { limit: 20, offset: 0, total: 33000, nextCursor: 'abc' } }))

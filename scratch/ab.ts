import { Kysely } from 'kysely'
import { openSqlite } from '/work/main/src/db/sqlite.ts'
import * as NEW from '/work/main/src/tasks/repository.ts'
import * as OLD from '/work/main/src/tasks/repository-old.ts'
import { parseListQuery } from '/work/main/src/tasks/list-query.ts'
import { readFileSync } from 'node:fs'
const seeded = JSON.parse(readFileSync('/tmp/bdb/seeded.json', 'utf8'))
const { dialect } = openSqlite('/tmp/bdb')
const db = new Kysely<any>({ dialect })
const viewer = { userId: seeded.benchUser.id, seesAllDeleted: false }
const N = 5000
const statuses = ['todo', 'doing', 'done']
async function time(label: string, fn: (i: number) => unknown) {
  for (let i = 0; i < 300; i++) await fn(i)
  const t0 = performance.now()
  for (let i = 0; i < N; i++) await fn(i)
  return (performance.now() - t0) * 1000 / N
}
for (let r = 0; r < 3; r++) {
  const o = await time('old', (i) => OLD.listTasks(db, 'sqlite', parseListQuery({ status: statuses[i % 3] }, viewer.userId), viewer))
  const n = await time('new', (i) => NEW.listTasks(db, 'sqlite', parseListQuery({ status: statuses[i % 3] }, viewer.userId), viewer))
  console.log('old', o.toFixed(1), 'new', n.toFixed(1), 'µs')
}

import { buildTestApp, registerAndLogin } from '../test/helpers.ts'
const t = await buildTestApp({})
const u = await registerAndLogin(t.app)
// webhook subscribed like the bench? bench has none
const db: any = t.app.database.db
const orig = db.getExecutor().executeQuery.bind(db.getExecutor())
const log: string[] = []
const ex = db.getExecutor()
const proto = Object.getPrototypeOf(ex)
const saved = proto.executeQuery
proto.executeQuery = function (q: any, id: any) { log.push(q.sql.slice(0, 160)); return saved.call(this, q, id) }
await t.app.inject({ method: 'POST', url: '/v1/tasks', headers: { ...u.auth, 'content-type': 'application/json' }, payload: { title: 'Bench task', description: 'x', priority: 'high', dueAt: new Date(Date.now() + 86400000).toISOString(), tags: ['bench', 'backend'] } })
log.length = 0
await t.app.inject({ method: 'POST', url: '/v1/tasks', headers: { ...u.auth, 'content-type': 'application/json' }, payload: { title: 'Bench task', description: 'x', priority: 'high', dueAt: new Date(Date.now() + 86400000).toISOString(), tags: ['bench', 'backend'] } })
console.log(log.join('\n'))
await t.close()

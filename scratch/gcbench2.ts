import { buildTestApp, registerAndLogin } from '../test/helpers.ts'
import { GroupCommit } from '../src/db/group-commit.ts'
const t = await buildTestApp({})
const u = await registerAndLogin(t.app)
const gc = new GroupCommit(t.app.database.db)
;(t.app.database as any).transact = (w: any) => gc.run(w)
const body = { title: 'Bench task: review the invoice export', description: 'Created by the benchmark harness.', priority: 'high', tags: ['bench', 'backend'] }
let n = 0
const t0 = performance.now()
const worker = async () => { while (performance.now() - t0 < 4000) { const r = await t.app.inject({ method: 'POST', url: '/v1/tasks', headers: u.auth, payload: body }); if (r.statusCode !== 201) throw new Error(r.body); n++ } }
await Promise.all(Array.from({ length: 32 }, worker))
console.log((n / 4).toFixed(0), 'creates/s', gc.stats, (gc.stats.units / gc.stats.batches).toFixed(1), 'per batch')
await t.close()

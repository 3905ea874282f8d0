import { buildTestApp, registerAndLogin } from '../test/helpers.ts'
import { Writable } from 'node:stream'
const lines: string[] = []
const w = new Writable({ write(c, _e, d) { lines.push(c.toString()); d() } })
let fail: Error | undefined
const t = await buildTestApp({ LOG_LEVEL: 'info' }, { logStream: w, events: { async recordTaskEvent() { if (fail) throw fail } } as any })
const u = await registerAndLogin(t.app)
fail = Object.assign(new Error('driver failed', { cause: Object.assign(new Error('inner'), { token: 'tok' }) }), { password: 'pw', config: { connection: { secret: 's', host: 'h' } } })
const r = await t.app.inject({ method: 'POST', url: '/v1/tasks', headers: { ...u.auth, 'x-request-id': 'zz' }, payload: { title: 'b' } })
console.log(r.statusCode, lines.filter((l) => l.includes('zz')).join('\n').slice(0, 1500))
await t.close()

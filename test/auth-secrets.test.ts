// Secrets stay secret: no password, access/refresh/API token or key in the logs, even when
// requests fail; every response carrying one is no-store; the OpenAPI document covers the auth routes.
import assert from 'node:assert/strict'
import { PassThrough } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { buildTestApp, PASSWORD, registerAndLogin, type TestApp } from './helpers.ts'

describe('secrets in logs and responses', () => {
  let t: TestApp
  let logs = ''
  before(async () => {
    const stream = new PassThrough()
    stream.on('data', (chunk: Buffer) => {
      logs += chunk.toString('utf8')
    })
    t = await buildTestApp({ LOG_LEVEL: 'debug' }, { logStream: stream })
  })
  after(() => t.close())

  it('never logs credentials', async () => {
    const user = await registerAndLogin(t.app)
    const refreshed = await t.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refreshToken: user.refreshToken },
    })
    assert.equal(refreshed.headers['cache-control'], 'no-store')
    const pair = refreshed.json() as { accessToken: string; refreshToken: string }
    const created = await t.app.inject({
      method: 'POST',
      url: '/v1/api-tokens',
      headers: { authorization: `Bearer ${pair.accessToken}` },
      payload: { name: 'x', scopes: ['tasks:read'] },
    })
    assert.equal(created.headers['cache-control'], 'no-store')
    const apiToken = (created.json() as { token: string }).token
    await t.app.inject({ url: '/v1/tasks', headers: { authorization: `Bearer ${apiToken}` } })
    await t.app.inject({ url: '/v1/tasks', headers: { authorization: `Bearer ${user.token}x` } })
    await t.app.inject({
      method: 'POST',
      url: '/v1/auth/refresh',
      payload: { refreshToken: user.refreshToken },
    })
    await t.app.inject({
      method: 'POST',
      url: '/v1/auth/login',
      payload: { email: user.email, password: `${PASSWORD}!` },
    })
    const keys = await t.app.database.db.selectFrom('signing_keys').select('private_key').execute()
    await new Promise((r) => setImmediate(r))
    assert.ok(logs.length > 0)
    for (const secret of [
      PASSWORD,
      user.token,
      user.refreshToken,
      pair.accessToken,
      pair.refreshToken,
      apiToken,
    ]) {
      assert.ok(!logs.includes(secret), 'a secret reached the logs')
    }
    for (const { private_key } of keys) assert.ok(!logs.includes(private_key.split('\n')[1] ?? private_key))
  })

  it('documents the auth routes with their responses', async () => {
    const doc = (await t.app.inject({ url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, { responses: Record<string, unknown> }>>
    }
    for (const [path, method, status] of [
      ['/v1/auth/refresh', 'post', '200'],
      ['/v1/auth/logout', 'post', '204'],
      ['/v1/api-tokens', 'post', '201'],
      ['/v1/api-tokens', 'get', '200'],
      ['/v1/api-tokens/{id}', 'delete', '204'],
      ['/v1/users', 'get', '200'],
      ['/v1/audit-events', 'get', '200'],
    ] as const) {
      const operation = doc.paths[path]?.[method]
      assert.ok(operation, `${method} ${path}`)
      assert.ok(operation.responses[status], `${method} ${path} ${status}`)
      assert.ok(operation.responses['429'] && operation.responses['500'], `${method} ${path} errors`)
    }
  })
})

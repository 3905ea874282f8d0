// PostgreSQL that stops answering without closing anything (a network partition, a hung
// server), end to end through a TCP proxy this test controls in front of the real server:
// /ready turns 503 within about the connect timeout, requests answer 503 within the statement
// timeout plus a second, and the service recovers by itself once traffic flows again.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { Response as LightMyRequestResponse } from 'light-my-request'
import {
  buildTestApp,
  errorOf,
  freshPostgresSchema,
  registerAndLogin,
  type TestApp,
  type TestUser,
} from './helpers.ts'

/** Forwards to PostgreSQL; once `silent`, drops every byte both ways and keeps every socket open. */
async function silenceableProxy(target: URL) {
  let silent = false
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const upstream = net.connect(Number(target.port || 5432), target.hostname)
    for (const socket of [client, upstream]) {
      sockets.add(socket)
      socket.on('error', () => {})
      socket.on('close', () => sockets.delete(socket))
    }
    client.on('data', (chunk) => {
      if (!silent) upstream.write(chunk)
    })
    upstream.on('data', (chunk) => {
      if (!silent) client.write(chunk)
    })
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as net.AddressInfo).port,
    silence: (on: boolean) => {
      silent = on
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

describe('PostgreSQL that stops answering', () => {
  let t: TestApp
  let proxy: Awaited<ReturnType<typeof silenceableProxy>>
  let user: TestUser
  let schema: Awaited<ReturnType<typeof freshPostgresSchema>>

  before(async () => {
    const base = new URL(process.env.TEST_DATABASE_URL ?? '')
    proxy = await silenceableProxy(base)
    // A schema of its own, reached through the proxy.
    schema = await freshPostgresSchema()
    const url = new URL(schema.url)
    url.hostname = '127.0.0.1'
    url.port = String(proxy.port)
    t = await buildTestApp({
      DATABASE_URL: url.toString(),
      DATABASE_STATEMENT_TIMEOUT_MS: 1000,
      DATABASE_CONNECT_TIMEOUT_MS: 1000,
    })
    user = await registerAndLogin(t.app)
  })
  after(async () => {
    await t?.close()
    await proxy?.close()
    await schema?.drop()
  })

  const timed = async (run: () => Promise<LightMyRequestResponse>) => {
    const started = performance.now()
    const res = await run()
    return { res, ms: performance.now() - started }
  }

  it('answers /ready and requests with 503 in bounded time, then recovers', async () => {
    // Warm connections, which the silence then catches open.
    await Promise.all(Array.from({ length: 5 }, () => t.app.inject({ url: '/v1/tasks', headers: user.auth })))
    proxy.silence(true)
    const ready = await timed(() => t.app.inject({ url: '/ready' }))
    assert.equal(ready.res.statusCode, 503, ready.res.body)
    assert.ok(ready.ms < 1800, `/ready took ${Math.round(ready.ms)} ms`)
    const list = await timed(() => t.app.inject({ url: '/v1/tasks', headers: user.auth }))
    assert.equal(list.res.statusCode, 503, list.res.body)
    assert.equal(errorOf(list.res).code, 'SERVICE_UNAVAILABLE')
    assert.ok(list.ms < 2800, `a list took ${Math.round(list.ms)} ms`)
    proxy.silence(false)
    let back = false
    for (let i = 0; i < 50 && !back; i++) {
      back = (await t.app.inject({ url: '/ready' })).statusCode === 200
      if (!back) await sleep(100)
    }
    assert.ok(back, '/ready did not turn 200 once the database answered again')
    assert.equal((await t.app.inject({ url: '/v1/tasks', headers: user.auth })).statusCode, 200)
  })
})

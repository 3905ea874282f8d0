// How the bench joins its alternated slices of one scenario (bench/load.ts): the percentiles it
// reports are those of every request of every slice, not the worst slice's. A few slow requests
// that are 2 % of one short slice but 0.1 % of the scenario must not read as its p99.
// Real HTTP: autocannon drives a node:http server on a local socket.
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { combine, drive } from '../bench/load.ts'

const SLOW_MS = 200

describe('bench slices joined', () => {
  let server: Server
  let url: string
  let hung = 0

  before(async () => {
    server = createServer((req, res) => {
      if (req.url === '/hang') {
        hung++ // never answered
        return
      }
      const answer = () => {
        res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'text/plain' })
        res.end('ok')
      }
      // A little over SLOW_MS: latencies are recorded in whole ms, and a timer may fire a hair early.
      if (req.url === '/slow') setTimeout(answer, SLOW_MS + 20)
      else if (req.url === '/reset')
        req.socket.resetAndDestroy() // the client sees ECONNRESET
      else if (req.url === '/close')
        req.socket.destroy() // a clean close, no answer
      else answer()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  )

  const slice = (paths: string[], duration: number) =>
    drive({
      url,
      pid: process.pid,
      connections: 1,
      duration,
      requests: () => paths.map((path) => ({ method: 'GET', path })),
    })

  it('reports p50, p99 and max over all requests of all slices', async () => {
    const fast = await slice(['/fast'], 2)
    // One request in 50 is slow: 2 % of this slice, so its own p99 is a slow one.
    const mixed = await slice(['/slow', ...Array<string>(49).fill('/fast')], 1)
    assert.ok(mixed.p99 >= SLOW_MS, `the mixed slice's own p99 is a slow request (${mixed.p99} ms)`)
    const slow = Math.ceil(mixed.requests / 50)
    assert.ok(
      slow * 100 < fast.requests + mixed.requests,
      `the slow requests are under 1 % of both slices together (${slow} of ${fast.requests + mixed.requests})`,
    )
    // Requests per second over the time the run took (seconds, not milliseconds).
    assert.ok(
      Math.abs(fast.rps * fast.seconds - fast.requests) <= fast.rps * 0.01 + 1,
      `${fast.rps} req/s over ${fast.seconds} s is ${fast.requests} requests`,
    )
    assert.ok(fast.seconds >= 2 && fast.seconds < 4, `the 2 s slice ran ${fast.seconds} s`)

    const joined = combine([fast, mixed])
    assert.equal(joined.requests, fast.requests + mixed.requests)
    assert.equal(joined.rps, Math.round(joined.requests / (fast.seconds + mixed.seconds)))
    assert.ok(
      joined.p99 < SLOW_MS,
      `p99 over both slices is a fast request, not the worst slice's (${joined.p99} ms)`,
    )
    assert.ok(joined.max >= SLOW_MS, `max over both slices is the slowest request (${joined.max} ms)`)
    assert.ok(joined.p50 <= fast.p99, `p50 over both slices is a fast request (${joined.p50} ms)`)
    assert.equal(joined.errors, 0)
  })

  it('counts non-2xx answers, connection errors and dropped requests as errors, summed over the slices', async () => {
    const a = await slice(['/fast', '/missing'], 0.5)
    // Each 404 is followed by a request the server answers with a reset, or by a clean close.
    const reset = await slice(['/missing', '/reset'], 0.5)
    const closed = await slice(['/missing', '/close'], 0.5)
    const notFound = (m: { statusCodes: Record<string, number> }) => m.statusCodes['404'] ?? 0
    assert.ok(notFound(a) > 0 && (a.statusCodes['200'] ?? 0) > 0)
    assert.equal(a.errors, notFound(a), 'the first slice had no connection errors')
    for (const [name, m] of [
      ['reset', reset],
      ['closed', closed],
    ] as const) {
      const failed = m.errors - notFound(m)
      assert.ok(
        notFound(m) > 0 && Math.abs(failed - notFound(m)) <= 2,
        `${name}: one failed request per 404 (${failed} against ${notFound(m)})`,
      )
    }
    const joined = combine([a, reset, closed])
    assert.equal(joined.errors, a.errors + reset.errors + closed.errors)
    assert.equal(notFound(joined), notFound(a) + notFound(reset) + notFound(closed))
  })

  it('counts a request that timed out as one error', async () => {
    const m = await drive({
      url,
      pid: process.pid,
      connections: 1,
      // autocannon stops on its once-a-second tick, at 2 s here, and refuses timeouts under 1 s:
      // one timeout at 1.5 s, half a second from the stop, and the next not due until 3 s.
      duration: 2,
      timeout: 1.5,
      requests: () => [{ method: 'GET', path: '/hang' }],
    })
    // Every request the server received timed out, but the one still waiting when the run stopped.
    assert.ok(hung >= 2, `${hung} requests`)
    assert.equal(m.errors, hung - 1)
    assert.equal(m.requests, 0)
  })
})

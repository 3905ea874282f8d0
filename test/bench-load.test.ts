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

  before(async () => {
    server = createServer((req, res) => {
      const answer = () => {
        res.writeHead(req.url === '/missing' ? 404 : 200, { 'content-type': 'text/plain' })
        res.end('ok')
      }
      if (req.url === '/slow') setTimeout(answer, SLOW_MS)
      else answer()
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  })
  after(() => new Promise<void>((resolve) => server.close(() => resolve())))

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
    assert.ok(
      mixed.requests * 20 < fast.requests,
      `the slow requests are under 1 % of both slices together (${mixed.requests} + ${fast.requests})`,
    )

    const joined = combine([fast, mixed])
    assert.equal(joined.requests, fast.requests + mixed.requests)
    assert.ok(
      joined.p99 < SLOW_MS,
      `p99 over both slices is a fast request, not the worst slice's (${joined.p99} ms)`,
    )
    assert.ok(joined.max >= SLOW_MS, `max over both slices is the slowest request (${joined.max} ms)`)
    assert.ok(joined.p50 <= fast.p99, `p50 over both slices is a fast request (${joined.p50} ms)`)
    assert.equal(joined.errors, 0)
  })

  it('sums errors and status codes over the slices', async () => {
    const a = await slice(['/fast', '/missing'], 0.5)
    const b = await slice(['/missing'], 0.5)
    const joined = combine([a, b])
    assert.equal(joined.errors, a.errors + b.errors)
    assert.equal(joined.statusCodes['404'], (a.statusCodes['404'] ?? 0) + (b.statusCodes['404'] ?? 0))
    assert.ok((joined.statusCodes['404'] ?? 0) > 0 && joined.errors === joined.statusCodes['404'])
    assert.ok((joined.statusCodes['200'] ?? 0) > 0)
  })
})

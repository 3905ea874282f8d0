// The bench's target checks (bench/report.ts) say PASS or MISS against issue 6's targets, and
// the figure printed beside a verdict never contradicts it: a ratio just under a target is not
// rounded up to read as the target.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { checks, type Row, scaleVerdict, searchCacheText } from '../bench/report.ts'

const row = (scenario: string, fields: Partial<Row>): Row => ({
  scenario,
  title: scenario,
  target: 'service',
  rps: 2000,
  p50: 5,
  p99: 20,
  max: 40,
  requests: 20_000,
  errors: 0,
  statusCodes: { 200: 20_000 },
  rssMb: 150,
  ...fields,
})

const verdicts = (rows: Row[]) =>
  Object.fromEntries(checks(rows, 150).map((c) => [c.target, `${c.ok ? 'PASS' : 'MISS'} ${c.value}`]))

describe('bench target checks', () => {
  it('shows a figure just under a target cut, not rounded up to it', () => {
    const v = verdicts([
      row('get', { rps: 1689.9, ratio: 0.5996 }),
      row('list', { rps: 1020, ratio: 0.6, naiveRatio: 9.996 }),
    ])
    assert.equal(v['get ≥ 0.6 × floor'], 'MISS 0.599')
    assert.equal(v['list ≥ 0.6 × floor'], 'PASS 0.600')
    assert.equal(v['list with total ≥ 10 × naive floor'], 'MISS 9.99×')
    assert.equal(v['get ≥ 10 × Directus defaults (169 req/s)'], 'MISS 9.9×')
    assert.equal(v['list ≥ 10 × Directus defaults (102 req/s)'], 'PASS 10.0×')
  })

  it('misses on a slow p99, any error, or peak RSS at 200 MB', () => {
    const v = verdicts([row('get', { p99: 25 }), row('search', { p99: 24, errors: 1, rssMb: 200 })])
    assert.equal(v['get: p99 < 25 ms'], 'MISS 25.0 ms')
    assert.equal(v['search: p99 < 25 ms'], 'PASS 24.0 ms')
    assert.equal(v['zero errors'], 'MISS 1')
    assert.equal(v['service peak RSS < 200 MB'], 'MISS 200 MB')
  })

  it('gives the scale target a verdict only where whole-millisecond p50s decide it', () => {
    const verdict = (small: number, large: number) => scaleVerdict(small, large).verdict
    assert.equal(verdict(6, 6), 'PASS') // 6.0–6.99 against 6.0–6.99 ms: at most 1.17×
    assert.equal(verdict(6, 11), 'PASS') // at most 11.99 / 6 = 2.0×
    assert.equal(verdict(6, 12), 'UNSURE') // 1.71–2.17×
    assert.equal(verdict(6, 14), 'UNSURE') // at least 14 / 6.99 = 2.0×, which meets the target
    assert.equal(verdict(6, 15), 'MISS') // at least 2.15×
    assert.equal(verdict(0, 1), 'UNSURE') // a sub-millisecond p50 bounds nothing above
    assert.equal(verdict(0, 3), 'MISS')
    assert.equal(verdict(12, 10), 'PASS')
    const { ratio, low, high } = scaleVerdict(6, 6)
    assert.ok(low < ratio && ratio < high && Math.abs(ratio - 1) < 1e-9)
  })
})

describe('bench search cache line', () => {
  it("says how many of each scenario's searches the cache answered, and nothing when none searched", () => {
    assert.equal(
      searchCacheText([
        row('get', { searchCache: { hits: 0, misses: 0 } }),
        row('search', { searchCache: { hits: 9_990, misses: 10 } }),
        row('mix', { searchCache: { hits: 3, misses: 297 } }),
        row('deep', { searchCache: { hits: 9_999, misses: 1 } }),
      ]),
      "searches answered by the service's result cache, warm-up included: search 9,990 of 10,000 (99.9%), mix 3 of 300 (1.0%), deep 9,999 of 10,000 (99.9%)",
    )
    assert.equal(
      searchCacheText([row('get', {}), row('list', { searchCache: { hits: 0, misses: 0 } })]),
      undefined,
    )
  })
})

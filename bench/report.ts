// Turns measured runs into the terminal table, the target checks of issue 6
// and the JSON record written to bench/results/.
import { type Measured, perRequestMs } from './load.ts'

export interface Row extends Measured {
  scenario: string
  title: string
  target: 'service' | 'floor'
  /** For service rows with a floor: the floor's requests/s and service/floor. */
  floorRps?: number
  ratio?: number
  /** For the list: the naive floor's requests/s and service/naive. */
  naiveRps?: number
  naiveRatio?: number
  /**
   * Service rows that searched: how many of its searches (warm-up included) the result cache
   * answered, and how many the database did (`db_search_results_total`).
   */
  searchCache?: { hits: number; misses: number }
}

/** Directus 12.4 with its defaults on this kind of machine (issue 6, §6). */
export const DIRECTUS_DEFAULTS: Record<string, number> = { get: 169, list: 102, create: 100, patch: 89 }
const READS = ['get', 'list', 'deep', 'search']

export interface Check {
  target: string
  value: string
  ok: boolean
}

const fmt = (n: number | undefined, digits = 0) =>
  n === undefined || Number.isNaN(n)
    ? '—'
    : n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

/**
 * A figure shown against a "≥" target: cut, not rounded, so a miss never reads as the target
 * (a ratio of 0.598 shows as 0.598 with one digit more than the table, never as 0.60).
 */
const cut = (n: number, digits: number) => fmt(Math.floor(n * 10 ** digits + 1e-9) / 10 ** digits, digits)

export function table(rows: Row[]): string {
  const withDb = rows.some((r) => r.dbCpuSeconds !== undefined)
  const head = [
    'scenario',
    'req/s',
    'p50 ms',
    'p99 ms',
    'max ms',
    'errors',
    'RSS MB',
    'CPU ms/req',
    ...(withDb ? ['PG CPU ms/req'] : []),
    'floor req/s',
    'ratio',
  ]
  const body = rows.map((r) => [
    `${r.target === 'floor' ? '  ' : ''}${r.scenario} — ${r.title}`,
    fmt(r.rps),
    fmt(r.p50, 1),
    fmt(r.p99, 1),
    fmt(r.max, 1),
    fmt(r.errors),
    fmt(r.rssMb),
    fmt(perRequestMs(r.cpuSeconds, r.requests), 3),
    ...(withDb ? [fmt(perRequestMs(r.dbCpuSeconds, r.requests), 3)] : []),
    fmt(r.floorRps),
    r.ratio === undefined
      ? ''
      : `${fmt(r.ratio, 2)}${r.naiveRatio !== undefined ? ` (${fmt(r.naiveRatio, 2)}× naive)` : ''}`,
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => (b[i] as string).length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 0 ? c.padEnd(widths[i] as number) : c.padStart(widths[i] as number)))
      .join('  ')
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n')
}

/** The targets of issue 6 that one run can check (the 1M vs 10k one needs two runs). */
export function checks(rows: Row[], serviceHwmMb: number | undefined): Check[] {
  const out: Check[] = []
  const service = rows.filter((r) => r.target === 'service')
  const by = (name: string) => service.find((r) => r.scenario === name)
  for (const name of ['get', 'list']) {
    const r = by(name)
    if (r?.ratio !== undefined)
      out.push({ target: `${name} ≥ 0.6 × floor`, value: cut(r.ratio, 3), ok: r.ratio >= 0.6 })
  }
  const list = by('list')
  if (list?.naiveRatio !== undefined)
    out.push({
      target: 'list with total ≥ 10 × naive floor',
      value: `${cut(list.naiveRatio, 2)}×`,
      ok: list.naiveRatio >= 10,
    })
  for (const name of READS) {
    const r = by(name)
    if (r) out.push({ target: `${name}: p99 < 25 ms`, value: `${fmt(r.p99, 1)} ms`, ok: r.p99 < 25 })
  }
  const errors = service.reduce((n, r) => n + r.errors, 0)
  out.push({ target: 'zero errors', value: String(errors), ok: errors === 0 })
  const rss = Math.max(serviceHwmMb ?? 0, ...service.map((r) => r.rssMb ?? 0))
  out.push({ target: 'service peak RSS < 200 MB', value: `${rss} MB`, ok: rss > 0 && rss < 200 })
  for (const [name, directus] of Object.entries(DIRECTUS_DEFAULTS)) {
    const r = by(name)
    if (r)
      out.push({
        target: `${name} ≥ 10 × Directus defaults (${directus} req/s)`,
        value: `${cut(r.rps / directus, 1)}×`,
        ok: r.rps >= 10 * directus,
      })
  }
  return out
}

export function checksText(list: Check[]): string {
  return list.map((c) => `  ${c.ok ? 'PASS' : 'MISS'}  ${c.target}: ${c.value}`).join('\n')
}

export interface ScaleVerdict {
  /** The best estimate of large ÷ small, from the middle of each p50's millisecond. */
  ratio: number
  /** The smallest and largest ratio the two whole-millisecond p50s allow. */
  low: number
  high: number
  verdict: 'PASS' | 'MISS' | 'UNSURE'
}

/**
 * The scale target: the large size's list p50 at most `limit` times the small size's. autocannon
 * records latencies in whole milliseconds, cut (a p50 of 6 ms is 6.0–6.99 ms), so two p50s only
 * bound the ratio: PASS when even its largest value is within the limit, MISS when even its
 * smallest is over it, UNSURE in between (longer runs or more connections narrow it).
 */
export function scaleVerdict(smallP50: number, largeP50: number, limit = 2): ScaleVerdict {
  const low = largeP50 / (smallP50 + 1)
  const high = smallP50 > 0 ? (largeP50 + 1) / smallP50 : Number.POSITIVE_INFINITY
  const verdict = high <= limit ? 'PASS' : low > limit ? 'MISS' : 'UNSURE'
  return { ratio: (largeP50 + 0.5) / (smallP50 + 0.5), low, high, verdict }
}

/**
 * One line on how many of each scenario's searches the service's result cache answered, so a
 * reader can tell a search figure measured on repeated searches from one that ranked every time.
 * Undefined when no scenario searched (or the service keeps no cache).
 */
export function searchCacheText(rows: readonly Row[]): string | undefined {
  const parts: string[] = []
  for (const r of rows) {
    const c = r.searchCache
    if (!c || c.hits + c.misses === 0) continue
    // Cut, not rounded: 99.96% answered is not all of them.
    const share = Math.floor((1000 * c.hits) / (c.hits + c.misses)) / 10
    parts.push(`${r.scenario} ${fmt(c.hits)} of ${fmt(c.hits + c.misses)} (${fmt(share, 1)}%)`)
  }
  return parts.length > 0
    ? `searches answered by the service's result cache, warm-up included: ${parts.join(', ')}`
    : undefined
}

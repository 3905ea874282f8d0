// Drives one target with autocannon (programmatically) and samples the target
// process's resident memory while it runs, and the CPU it and the database used.
import autocannon, { type Instance, type RawResult, type Request } from 'autocannon'
import { cpuSeconds, postgresCpuSeconds, sampleRss } from './processes.ts'

export interface LoadSpec {
  url: string
  pid: number
  connections: number
  duration: number
  headers?: Record<string, string>
  /** A fresh request list per run (closures keep per-run state such as rotating ids). */
  requests: () => Request[]
  /** Also count the CPU of the local PostgreSQL server's processes. */
  postgresCpu?: boolean
}

export interface Measured {
  rps: number
  p50: number
  p99: number
  max: number
  requests: number
  /** Non-2xx responses plus connection errors and timeouts. */
  errors: number
  statusCodes: Record<string, number>
  /** Peak VmRSS of the target during the run (MB). */
  rssMb: number | undefined
  /**
   * CPU seconds the target used during the run (every thread), and the local PostgreSQL
   * server's processes when asked. Divided by `requests`, they are a cost per request that a
   * busy, shared machine moves far less than it moves requests/s.
   */
  cpuSeconds?: number
  dbCpuSeconds?: number
  /**
   * autocannon's unaggregated result for the run (its latency histogram, encoded) and the URL
   * it loaded, so that slices join into percentiles over all of their requests.
   */
  histogram?: { url: string; raw: RawResult }
}

let current: Instance | undefined

/** Stops the run in progress (Ctrl-C): autocannon then resolves with what it has. */
export function stopLoad(): void {
  current?.stop()
}

export async function drive(spec: LoadSpec): Promise<Measured> {
  const rss = sampleRss(spec.pid)
  const cpuBefore = cpuSeconds(spec.pid)
  const dbBefore = spec.postgresCpu ? postgresCpuSeconds() : undefined
  try {
    current = autocannon({
      url: spec.url,
      connections: spec.connections,
      duration: spec.duration,
      pipelining: 1,
      timeout: 10,
      headers: spec.headers ?? {},
      requests: spec.requests(),
      skipAggregateResult: true,
    })
    const raw = (await current) as RawResult
    const cpuAfter = cpuSeconds(spec.pid)
    const dbAfter = spec.postgresCpu ? postgresCpuSeconds() : undefined
    const { latency } = autocannon.aggregateResult([raw], { url: spec.url })
    const statusCodes: Record<string, number> = {}
    for (const [code, { count }] of Object.entries(raw.statusCodeStats ?? {}))
      statusCodes[code] = Number(count)
    return {
      rps: Math.round(raw.totalCompletedRequests / Math.max(raw.duration, 0.001)),
      p50: latency.p50,
      p99: latency.p99,
      max: latency.max,
      requests: raw.totalCompletedRequests,
      errors: raw.non2xx + raw.errors + raw.timeouts,
      statusCodes,
      rssMb: rss.stop(),
      cpuSeconds: difference(cpuBefore, cpuAfter),
      dbCpuSeconds: difference(dbBefore, dbAfter),
      histogram: { url: spec.url, raw },
    }
  } finally {
    rss.stop()
    current = undefined
  }
}

/** after − before; unknown when either is, or when the count went back (a process restarted). */
const difference = (before: number | undefined, after: number | undefined) =>
  before === undefined || after === undefined || after < before ? undefined : after - before

/** Sums a field over the slices; undefined if any slice lacks it. */
const total = (slices: Measured[], field: 'cpuSeconds' | 'dbCpuSeconds') =>
  slices.every((s) => s[field] !== undefined) && slices.length > 0
    ? slices.reduce((n, s) => n + (s[field] as number), 0)
    : undefined

/**
 * Joins the slices of one job: requests/s over the whole time; p50, p99 and max over every
 * request of every slice, from their latency histograms merged (autocannon.aggregateResult),
 * not a median or maximum of the slices' own percentiles; errors and status codes summed.
 */
export function combine(slices: Measured[]): Measured {
  const requests = slices.reduce((n, s) => n + s.requests, 0)
  const seconds = slices.reduce((n, s) => n + s.requests / Math.max(s.rps, 1e-9), 0)
  const histograms = slices.flatMap((s) => (s.histogram ? [s.histogram] : []))
  if (histograms.length !== slices.length)
    throw new Error('combine: every slice needs its latency histogram (a Measured from drive())')
  const latency =
    histograms.length > 0
      ? autocannon.aggregateResult(
          histograms.map((h) => h.raw),
          { url: (histograms[0] as { url: string }).url },
        ).latency
      : undefined
  const statusCodes: Record<string, number> = {}
  for (const s of slices)
    for (const [code, n] of Object.entries(s.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n
  const rss = slices.map((s) => s.rssMb).filter((r): r is number => r !== undefined)
  return {
    rps: Math.round(requests / Math.max(seconds, 1e-9)),
    p50: latency?.p50 ?? 0,
    p99: latency?.p99 ?? 0,
    max: latency?.max ?? 0,
    requests,
    errors: slices.reduce((n, s) => n + s.errors, 0),
    statusCodes,
    rssMb: rss.length > 0 ? Math.max(...rss) : undefined,
    cpuSeconds: total(slices, 'cpuSeconds'),
    dbCpuSeconds: total(slices, 'dbCpuSeconds'),
  }
}

/** Milliseconds of CPU per completed request, or undefined when either is unknown. */
export function perRequestMs(seconds: number | undefined, requests: number): number | undefined {
  return seconds === undefined || requests <= 0 ? undefined : (seconds * 1000) / requests
}

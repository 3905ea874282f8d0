// Drives one target with autocannon (programmatically) and samples the target
// process's resident memory while it runs, and the CPU it and the database used.
import autocannon, { type Instance, type RawResult, type Request } from 'autocannon'
import * as hdr from 'hdr-histogram-js'
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
  /** Seconds a request may wait for its answer before it counts as an error (default 10). */
  timeout?: number
}

export interface Measured {
  rps: number
  p50: number
  p99: number
  max: number
  requests: number
  /** Non-2xx responses, connection errors, timeouts, and requests the target dropped unanswered. */
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
}

/** One run of drive(): its figures, how long it ran, and its latency histogram to join slices by. */
export interface Slice extends Measured {
  seconds: number
  /** autocannon's latency histogram of the run (ms), HdrHistogram's compressed base64 encoding. */
  latencies: string
}

/**
 * p50, p99 and max over every request of the runs, their latency histograms merged. The
 * histograms are decoded and merged in plain JavaScript: autocannon's own aggregateResult
 * builds WebAssembly histograms it never frees (~2.5 MB of the harness's memory per call).
 * Only answered requests are in a histogram; connection errors and timeouts are not.
 */
function latencyOf(encoded: string[]): { p50: number; p99: number; max: number } {
  const merged = hdr.build({ bitBucketSize: 64, autoResize: true, numberOfSignificantValueDigits: 5 })
  for (const text of encoded) merged.add(hdr.decodeFromCompressedBase64(text, 64, false))
  return { p50: merged.getValueAtPercentile(50), p99: merged.getValueAtPercentile(99), max: merged.maxValue }
}

let current: Instance | undefined

/** Stops the run in progress (Ctrl-C): autocannon then resolves with what it has. */
export function stopLoad(): void {
  current?.stop()
}

export async function drive(spec: LoadSpec): Promise<Slice> {
  const rss = sampleRss(spec.pid)
  const cpuBefore = cpuSeconds(spec.pid)
  const dbBefore = spec.postgresCpu ? postgresCpuSeconds() : undefined
  try {
    current = autocannon({
      url: spec.url,
      connections: spec.connections,
      duration: spec.duration,
      pipelining: 1,
      timeout: spec.timeout ?? 10,
      headers: spec.headers ?? {},
      requests: spec.requests(),
      skipAggregateResult: true,
    })
    const raw = await current
    const cpuAfter = cpuSeconds(spec.pid)
    const dbAfter = spec.postgresCpu ? postgresCpuSeconds() : undefined
    const statusCodes: Record<string, number> = {}
    for (const [code, { count }] of Object.entries(raw.statusCodeStats ?? {}))
      statusCodes[code] = Number(count)
    return {
      rps: Math.round(raw.totalCompletedRequests / Math.max(raw.duration, 0.001)),
      ...latencyOf([raw.latencies]),
      requests: raw.totalCompletedRequests,
      // autocannon counts every timeout in `errors` too (and in `timeouts`).
      errors: raw.non2xx + raw.errors + unanswered(raw, spec.connections),
      statusCodes,
      rssMb: rss.stop(),
      cpuSeconds: difference(cpuBefore, cpuAfter),
      dbCpuSeconds: difference(dbBefore, dbAfter),
      seconds: raw.duration,
      latencies: raw.latencies,
    }
  } finally {
    rss.stop()
    current = undefined
  }
}

/**
 * Requests the target dropped without an answer: a connection it closed cleanly with a request
 * outstanding. autocannon reconnects and goes on to the next request without counting anything,
 * so they are what was sent and neither answered, failed nor timed out, less the one request
 * per connection still in flight when the run stopped.
 */
function unanswered(raw: RawResult, connections: number): number {
  return Math.max(0, raw.totalRequests - raw.totalCompletedRequests - raw.errors - connections)
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
 * Joins the slices of one job: requests/s over their summed durations; p50, p99 and max over
 * every request of every slice, from their latency histograms merged, not a median or maximum
 * of the slices' own percentiles; errors and status codes summed.
 */
export function combine(slices: Slice[]): Measured {
  const requests = slices.reduce((n, s) => n + s.requests, 0)
  const seconds = slices.reduce((n, s) => n + s.seconds, 0)
  const statusCodes: Record<string, number> = {}
  for (const s of slices)
    for (const [code, n] of Object.entries(s.statusCodes)) statusCodes[code] = (statusCodes[code] ?? 0) + n
  const rss = slices.map((s) => s.rssMb).filter((r): r is number => r !== undefined)
  return {
    rps: Math.round(requests / Math.max(seconds, 0.001)),
    ...latencyOf(slices.map((s) => s.latencies)),
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

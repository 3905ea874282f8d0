// Drives one target with autocannon (programmatically) and samples the target
// process's resident memory while it runs.
import autocannon, { type Instance, type Request } from 'autocannon'
import { sampleRss } from './processes.ts'

export interface LoadSpec {
  url: string
  pid: number
  connections: number
  duration: number
  headers?: Record<string, string>
  /** A fresh request list per run (closures keep per-run state such as rotating ids). */
  requests: () => Request[]
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
}

let current: Instance | undefined

/** Stops the run in progress (Ctrl-C): autocannon then resolves with what it has. */
export function stopLoad(): void {
  current?.stop()
}

export async function drive(spec: LoadSpec): Promise<Measured> {
  const rss = sampleRss(spec.pid)
  try {
    current = autocannon({
      url: spec.url,
      connections: spec.connections,
      duration: spec.duration,
      pipelining: 1,
      timeout: 10,
      headers: spec.headers ?? {},
      requests: spec.requests(),
    })
    const result = await current
    const statusCodes: Record<string, number> = {}
    for (const [code, { count }] of Object.entries(result.statusCodeStats ?? {}))
      statusCodes[code] = Number(count)
    return {
      rps: Math.round(result.requests.total / Math.max(result.duration, 0.001)),
      p50: result.latency.p50,
      p99: result.latency.p99,
      max: result.latency.max,
      requests: result.requests.total,
      errors: result.non2xx + result.errors + result.timeouts,
      statusCodes,
      rssMb: rss.stop(),
    }
  } finally {
    rss.stop()
    current = undefined
  }
}

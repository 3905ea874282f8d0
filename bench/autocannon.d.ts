// The slice of autocannon 9's programmatic API the harness uses. autocannon
// ships no types and @types/autocannon describes v7, so the harness declares
// what it relies on here.
declare module 'autocannon' {
  import type { EventEmitter } from 'node:events'

  export interface RequestData {
    method: string
    path: string
    headers: Record<string, string>
    body?: string | Buffer
  }
  export interface Request {
    method?: string
    path?: string
    headers?: Record<string, string>
    body?: string
    setupRequest?: (request: RequestData, context: Record<string, unknown>) => RequestData
    onResponse?: (
      status: number,
      body: string,
      context: Record<string, unknown>,
      headers: Record<string, string | string[]>,
    ) => void
  }
  export interface Options {
    url: string
    connections?: number
    duration?: number
    pipelining?: number
    timeout?: number
    headers?: Record<string, string>
    requests?: Request[]
    /** Returns the run's unaggregated result (RawResult), for aggregateResult to join later. */
    skipAggregateResult?: boolean
  }
  export interface Histogram {
    average: number
    mean: number
    max: number
    min: number
    p50: number
    p90: number
    p97_5: number
    p99: number
  }
  export interface Result {
    requests: Histogram & { total: number; sent: number }
    latency: Histogram
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    statusCodeStats: Record<string, { count: number }>
  }
  /** A run's result under `skipAggregateResult`: counts, and its histograms encoded. */
  export interface RawResult {
    latencies: string
    totalCompletedRequests: number
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    statusCodeStats: Record<string, { count: number }>
  }
  export interface Instance extends EventEmitter, PromiseLike<Result | RawResult> {
    stop(): void
  }
  function autocannon(options: Options): Instance
  namespace autocannon {
    /** Joins runs made with `skipAggregateResult`, their latency histograms merged exactly. */
    function aggregateResult(results: RawResult[], options: { url: string; connections?: number }): Result
  }
  export default autocannon
}

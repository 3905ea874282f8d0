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
    /**
     * Resolve with the run's unaggregated result (RawResult), its histograms encoded. The
     * harness always asks for it (it merges the slices' histograms itself), so it is declared
     * as required and the aggregated result autocannon gives otherwise is not declared.
     */
    skipAggregateResult: true
  }
  /** A run's result under `skipAggregateResult`: counts, and its histograms encoded. */
  export interface RawResult {
    latencies: string
    /** Requests written, answered or not. */
    totalRequests: number
    totalCompletedRequests: number
    duration: number
    errors: number
    timeouts: number
    non2xx: number
    statusCodeStats: Record<string, { count: number }>
  }
  export interface Instance extends EventEmitter, PromiseLike<RawResult> {
    stop(): void
  }
  function autocannon(options: Options): Instance
  export default autocannon
}

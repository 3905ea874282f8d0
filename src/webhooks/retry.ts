// When to try a failed delivery again: the configured schedule with jitter, or the receiver's
// Retry-After on 429/5xx.

/** Parses WEBHOOK_RETRY_SCHEDULE ("5,300" or "5s,5m,2h") into milliseconds between attempts. */
export function parseRetrySchedule(text: string): number[] {
  const unit: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000 }
  return text
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)
    .map((part) => {
      const match = /^(\d+)([smh]?)$/.exec(part)
      if (!match) throw new Error(`bad retry schedule entry: ${part}`)
      return Number(match[1]) * (unit[match[2] || 's'] ?? 1000)
    })
}

const MAX_RETRY_AFTER_MS = 24 * 3_600_000

/** Retry-After as seconds or an HTTP date → milliseconds from now, bounded to [1 s, 24 h]. */
export function retryAfterMs(header: string | undefined, now: number): number | undefined {
  if (header === undefined) return undefined
  const trimmed = header.trim()
  let ms: number
  if (/^\d+$/.test(trimmed)) ms = Number(trimmed) * 1000
  else {
    const at = Date.parse(trimmed)
    if (Number.isNaN(at)) return undefined
    ms = at - now
  }
  return Math.min(Math.max(ms, 1000), MAX_RETRY_AFTER_MS)
}

/** ±20% jitter so endpoints that failed together are not retried together. */
export function withJitter(ms: number, random: () => number = Math.random): number {
  return Math.round(ms * (0.8 + 0.4 * random()))
}

// Time in one format everywhere: RFC 3339 UTC with milliseconds.

export type Clock = () => Date

export const systemClock: Clock = () => new Date()

/** Exactly what Date#toISOString writes for years 0000–9999: the form the service stores. */
const CANONICAL_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

/**
 * Normalises a database time to RFC 3339 UTC with ms: ISO text from SQLite, the same text from
 * PostgreSQL (timestamptzText in src/db/postgres.ts), or a Date where pg's own parser read it.
 * Text already in that form is returned as is: every row read carries three or four times, and
 * parsing and re-formatting each cost ~20× the pattern test.
 */
export function toIso(value: string | Date): string {
  if (typeof value === 'string') return CANONICAL_UTC.test(value) ? value : new Date(value).toISOString()
  return value.toISOString()
}

export function toIsoOrNull(value: string | Date | null): string | null {
  return value === null ? null : toIso(value)
}

/** The years RFC 3339 can write in UTC and both engines can store (PostgreSQL has no year 0). */
const MIN_MS = Date.parse('0001-01-01T00:00:00.000Z')
const MAX_MS = Date.parse('9999-12-31T23:59:59.999Z')

/** RFC 3339 with any offset → UTC with milliseconds; undefined when unparseable or outside years 1–9999 in UTC. */
export function normaliseTimestamp(value: string): string | undefined {
  const ms = Date.parse(value)
  if (Number.isNaN(ms) || ms < MIN_MS || ms > MAX_MS) return undefined
  return new Date(ms).toISOString()
}

/**
 * A time the service keeps to the millisecond, as the bound `stored >= bound` or `stored < bound`
 * needs it: parsing drops digits past the millisecond, which for these comparisons means the
 * next millisecond up (03.000 is before 03.0009, and not at or after it). At the last
 * millisecond of 9999, after which no time can be stored, it stays where it is.
 */
export function millisecondCeiling(value: string): string | undefined {
  const normalised = normaliseTimestamp(value)
  if (normalised === undefined || !/[.,]\d{3}\d*[1-9]/.test(value)) return normalised
  const next = new Date(Date.parse(normalised) + 1).toISOString()
  return normaliseTimestamp(next) === next ? next : normalised
}

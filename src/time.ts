// Time in one format everywhere: RFC 3339 UTC with milliseconds.

export type Clock = () => Date

export const systemClock: Clock = () => new Date()

/** Normalises a database time (ISO text from SQLite, Date from PostgreSQL) to RFC 3339 UTC with ms. */
export function toIso(value: string | Date): string {
  return value instanceof Date ? value.toISOString() : new Date(value).toISOString()
}

export function toIsoOrNull(value: string | Date | null): string | null {
  return value === null ? null : toIso(value)
}

// Engine-neutral classification of database errors the services care about.

/** A unique constraint was violated (SQLite SQLITE_CONSTRAINT_UNIQUE / PRIMARYKEY, PostgreSQL 23505). */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; errcode?: number }
  if (e?.code === 'ERR_SQLITE_ERROR') return e.errcode === 2067 || e.errcode === 1555
  return e?.code === '23505'
}

/** The database could not be reached or dropped the connection: a 503, not a 500. */
export class DatabaseUnavailableError extends Error {
  readonly code = 'DATABASE_UNAVAILABLE'
  constructor(cause: unknown) {
    super('The database is not reachable', { cause })
    this.name = 'DatabaseUnavailableError'
  }
}

/** The database is overloaded for this kind of work right now (too many reads waiting): a 503 with a short Retry-After. */
export class DatabaseBusyError extends Error {
  readonly code = 'DATABASE_BUSY'
  constructor(detail: string) {
    super(`The database is busy: ${detail}`)
    this.name = 'DatabaseBusyError'
  }
}

/** Socket-level codes from Node (connect refused, timed out, reset, unresolvable host). */
const NETWORK_CODES = new Set([
  'DATABASE_UNAVAILABLE',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
])

/**
 * True when `error` (or its cause) says the database is unreachable or going away, judged by
 * code only: Node socket codes, PostgreSQL SQLSTATE class 08 (connection exception),
 * 57P01–57P03 (admin/crash shutdown, cannot connect now) and 53300 (too many connections).
 */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e = error, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string') {
      if (NETWORK_CODES.has(code)) return true
      if (/^08[0-9A-Z]{3}$/.test(code) || /^57P0[123]$/.test(code) || code === '53300') return true
    }
    e = (e as { cause?: unknown }).cause
  }
  return false
}

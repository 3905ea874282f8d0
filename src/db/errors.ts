// Engine-neutral classification of database errors the services care about.

/** A unique constraint was violated (SQLite SQLITE_CONSTRAINT_UNIQUE / PRIMARYKEY, PostgreSQL 23505). */
export function isUniqueViolation(error: unknown): boolean {
  const e = error as { code?: string; errcode?: number }
  if (e?.code === 'ERR_SQLITE_ERROR') return e.errcode === 2067 || e.errcode === 1555
  return e?.code === '23505'
}

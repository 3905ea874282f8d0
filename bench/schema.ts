// The bench's throwaway PostgreSQL schema: its name and URL, its creation and its drop. The run
// and its reaper (bench/reaper.ts) both drop it; apart from this and bench/processes.ts, the
// reaper loads nothing of the bench's.
import pg from 'pg'

/**
 * A throwaway schema's name and the database URL that selects it (through pg's `options`).
 * Nothing is created yet: a DATABASE_URL this cannot rewrite is refused before anything exists.
 */
export function benchSchemaFor(baseUrl: string): { schema: string; url: string } {
  const schema = `bench_${process.pid}_${Date.now().toString(36)}`
  let url: URL
  try {
    url = new URL(baseUrl)
  } catch {
    throw new Error('DATABASE_URL must be a URL (postgres://user@host:port/database) for the bench')
  }
  url.searchParams.set('options', `-c search_path=${schema}`)
  return { schema, url: url.toString() }
}

/**
 * A server that cannot be reached fails the schema's creation and drop within 10 s, rather than
 * after the system's TCP timeout: a Ctrl-C waits for a creation in progress before dropping.
 */
const ADMIN_CONNECT_TIMEOUT_MS = 10_000

export async function createBenchSchema(baseUrl: string, schema: string): Promise<void> {
  const admin = new pg.Client({
    connectionString: baseUrl,
    connectionTimeoutMillis: ADMIN_CONNECT_TIMEOUT_MS,
    query_timeout: 30_000,
  })
  await admin.connect()
  try {
    await admin.query(`CREATE SCHEMA ${schema}`)
  } finally {
    await admin.end()
  }
}

/** Drops the schema and all it holds; answers whether there was one to drop. */
export async function dropBenchSchema(baseUrl: string, schema: string): Promise<boolean> {
  const admin = new pg.Client({
    connectionString: baseUrl,
    connectionTimeoutMillis: ADMIN_CONNECT_TIMEOUT_MS,
  })
  await admin.connect()
  try {
    const { rows } = await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    if (rows.length === 0) return false
    await admin.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
    return true
  } finally {
    await admin.end()
  }
}

// @ts-check
// The thread behind SqliteReader (sqlite-reader.ts): one read-only connection
// to the service's SQLite file. Each message is a list of queries, run in one
// read transaction (so a count and its page see the same snapshot) and answered
// with their rows, or with the error that stopped them.
//
// Plain JavaScript, type-checked by tsc through the JSDoc below: a worker whose
// entry is a .ts file loads Node's TypeScript stripper into its own isolate,
// which measured 11 MB more resident memory for this one thread (17 MB → 28 MB
// for an empty worker on Node 24).
import { DatabaseSync } from 'node:sqlite'
import { parentPort, workerData } from 'node:worker_threads'

/** @typedef {null | number | bigint | string | Uint8Array} SqlValue */
/** @typedef {{ id: number, queries: { sql: string, parameters: SqlValue[] }[] }} ReadRequest */
/**
 * @typedef {{ id: number, rows: unknown[][] }
 *   | { id: number, error: { message: string, code?: unknown, errcode?: unknown, errstr?: unknown } }} ReadReply
 */

const port = parentPort
if (!port) throw new Error('sqlite-reader-worker.js runs as a worker thread')

const { file } = /** @type {{ file: string }} */ (workerData)
const db = new DatabaseSync(file, { readOnly: true })
// A smaller page cache than the writer's: what search reads (the FTS index's
// segments and the page's rows) is one read from the OS page cache away.
db.exec(`
  PRAGMA busy_timeout = 5000;
  PRAGMA temp_store = MEMORY;
  PRAGMA cache_size = -4096;
`)

const STATEMENT_CACHE_SIZE = 200
/** @type {Map<string, import('node:sqlite').StatementSync>} */
const statements = new Map()

/** @param {string} sql */
function prepared(sql) {
  let stmt = statements.get(sql)
  if (!stmt) {
    stmt = db.prepare(sql)
    if (statements.size >= STATEMENT_CACHE_SIZE) {
      const oldest = statements.keys().next().value
      if (oldest !== undefined) statements.delete(oldest)
    }
    statements.set(sql, stmt)
  }
  return stmt
}

port.on('message', (/** @type {ReadRequest} */ { id, queries }) => {
  /** @type {ReadReply} */
  let reply
  try {
    db.exec('BEGIN')
    reply = { id, rows: queries.map((q) => prepared(q.sql).all(...q.parameters)) }
    db.exec('COMMIT')
  } catch (caught) {
    // The error that stopped the read is the one reported, not a failed ROLLBACK's; SQLite
    // may already have ended the transaction itself (SQLITE_BUSY, IOERR, NOMEM).
    if (db.isTransaction) {
      try {
        db.exec('ROLLBACK')
      } catch {
        // Nothing to add: the original error is reported below.
      }
    }
    const e = /** @type {{ message?: unknown, code?: unknown, errcode?: unknown, errstr?: unknown }} */ (
      caught
    )
    reply = {
      id,
      error: { message: String(e?.message ?? caught), code: e?.code, errcode: e?.errcode, errstr: e?.errstr },
    }
  }
  port.postMessage(reply)
})

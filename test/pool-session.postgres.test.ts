// Every pooled PostgreSQL connection is set to UTC before its first query runs on it, even when
// the URL asks for another zone, and that first query is never sent while the SET is still on
// the connection (pg queues it, deprecates that and drops it in pg@9). Both ways in are used: the
// pool's own query (the readiness check in src/db/database.ts) sends its query in the same tick
// as the connection is handed out, and readValues a tick later.
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { CompiledQuery } from 'kysely'
import { type OpenedPostgres, openPostgres } from '../src/db/postgres.ts'
import { watchQueuedQueries } from './helpers.ts'

describe('pooled PostgreSQL sessions (postgres)', () => {
  let opened: OpenedPostgres | undefined
  const busy = watchQueuedQueries()
  after(async () => {
    busy.stop()
    await opened?.pool.end()
  })

  it('are in UTC from their first query, with nothing queued behind a SET', async () => {
    const url = new URL(process.env.TEST_DATABASE_URL as string)
    url.searchParams.set('options', '-c TimeZone=Asia/Tokyo')
    const open = () =>
      openPostgres({
        url: url.toString(),
        poolMax: 3,
        connectTimeoutMs: 2000,
        statementTimeoutMs: 5000,
      })
    opened = open()
    const text =
      "SELECT current_setting('TimeZone'), TIMESTAMPTZ '2026-01-02 03:04:05.678+09', pg_backend_pid()"
    const pool = (opened as OpenedPostgres).pool
    // Three at once on a pool of three: each query is the first on a connection of its own.
    const first = await Promise.all(
      [1, 2, 3].map(async () => (await pool.query({ text, rowMode: 'array' })).rows[0] as unknown[]),
    )
    assert.equal(new Set(first.map((r) => r[2])).size, 3, 'three connections')
    await pool.end()
    opened = open()
    const read = CompiledQuery.raw(text)
    const second = await Promise.all(
      [1, 2, 3].map(async () => (await (opened as OpenedPostgres).readValues(read))[0]),
    )
    assert.equal(new Set(second.map((r) => r?.[2])).size, 3, 'three connections')
    for (const row of [...first, ...second]) {
      assert.equal(row?.[0], 'UTC')
      assert.equal(row?.[1], '2026-01-01T18:04:05.678Z')
    }
    assert.deepEqual(busy.queued(), [])
  })
})

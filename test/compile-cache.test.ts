// End to end: `npm start`'s entry (src/start.js) turns on Node's compile cache, so a
// start after the first reads every module's stripped TypeScript from disk and never
// loads Node's TypeScript stripper (13–28 MB resident for the life of the process).
// Node reports each cache read when NODE_DEBUG_NATIVE=COMPILE_CACHE is set; the test
// reads those lines. The cache directory is the test's own (NODE_COMPILE_CACHE), but
// for the test that checks where start.js keeps it by default. The same lines name
// every module a start compiles, which the last test reads to check that a service on
// SQLite loads no PostgreSQL or Redis driver (src/db/postgres.ts, src/redis.ts).
import assert from 'node:assert/strict'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { after, describe, it } from 'node:test'
import { cleanupAll, freePort, startNode } from '../bench/processes.ts'

const START = resolve(import.meta.dirname, '../src/start.js')

let starts = 0

/**
 * The service from start.js, through the bench's own starter (waits for /ready, SIGKILLs a
 * process that will not stop, leaves nothing behind after cleanupAll); its output goes to a
 * log file of its own, complete once the process has exited.
 */
async function start(
  dir: string,
  cache?: string,
): Promise<{ log: () => string; stop: () => Promise<number | null> }> {
  const port = await freePort()
  const logFile = join(dir, `service-${++starts}.log`)
  const server = await startNode({
    name: `service ${starts}`,
    args: [START],
    env: {
      PORT: String(port),
      HOST: '127.0.0.1',
      DATA_DIR: join(dir, 'data'),
      LOG_LEVEL: 'warn',
      NODE_DEBUG_NATIVE: 'COMPILE_CACHE',
      ...(cache === undefined ? {} : { NODE_COMPILE_CACHE: cache }),
    },
    port,
    logFile,
    cwd: dir,
    healthPath: '/ready',
  })
  return {
    log: () => readFileSync(logFile, 'utf8'),
    stop: async () => {
      await server.stop()
      return server.child.exitCode
    },
  }
}

/** The project's own TypeScript modules the process stripped, and those it read stripped from the cache. */
function stripping(log: string): { stripped: string[]; fromCache: string[] } {
  const ours = (line: string) => /file:\/\/\S*\/src\/\S+\.ts/.exec(line)?.[0]
  const stripped: string[] = []
  const fromCache: string[] = []
  for (const line of log.split('\n')) {
    const file = ours(line)
    if (!file) continue
    if (line.includes('no transpile cache for StrippedTypeScript')) stripped.push(file)
    if (/retrieving transpile cache for StrippedTypeScript .*success/.test(line)) fromCache.push(file)
  }
  return { stripped, fromCache }
}

describe('compile cache (src/start.js)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tt-compile-cache-'))
  const cache = join(dir, 'cache')
  after(async () => {
    await cleanupAll()
    rmSync(dir, { recursive: true, force: true })
  })

  it('fills the cache while the first start is still running, and a second start strips nothing', async () => {
    const first = await start(dir, cache)
    // Written once the service listens (main.ts flushes it), not only at exit.
    const written = readdirSync(cache, { recursive: true }).length
    assert.equal(await first.stop(), 0)
    const firstRun = stripping(first.log())
    assert.ok(
      firstRun.stripped.some((f) => f.endsWith('/src/main.ts')),
      'the first start strips main.ts',
    )
    assert.ok(written > firstRun.stripped.length, `cache entries while the first start ran: ${written}`)

    const second = await start(dir, cache)
    assert.equal(await second.stop(), 0)
    const secondRun = stripping(second.log())
    assert.deepEqual(secondRun.stripped, [], 'a start after the first strips no TypeScript')
    // Node's debug lines can interleave, so the reads are checked for main.ts and in number, not one by one.
    assert.ok(
      secondRun.fromCache.some((f) => f.endsWith('/src/main.ts')),
      'main.ts is read from the cache',
    )
    assert.ok(secondRun.fromCache.length > firstRun.stripped.length / 2, `read ${secondRun.fromCache.length}`)
  })

  it('keeps the cache in node_modules/.cache/task-tracker-compile when NODE_COMPILE_CACHE is not set', async () => {
    const server = await start(dir)
    assert.equal(await server.stop(), 0)
    assert.match(server.log(), /reading cache from \S*\/node_modules\/\.cache\/task-tracker-compile\//)
  })

  it('loads neither pg nor ioredis in a service on SQLite without REDIS_URL', async () => {
    const server = await start(dir, cache)
    assert.equal(await server.stop(), 0)
    // Every module the process compiled is named in the cache's debug lines, packages too.
    const packages = new Set(
      [...server.log().matchAll(/\/node_modules\/((?:@[^/\s]+\/)?[^/\s]+)\//g)].map((m) => m[1]),
    )
    assert.ok(packages.has('kysely') && packages.has('fastify'), `packages seen: ${[...packages].join(', ')}`)
    assert.ok(!packages.has('pg'), 'pg is loaded only with DATABASE_URL')
    assert.ok(!packages.has('ioredis'), 'ioredis is loaded only with REDIS_URL')
  })
})

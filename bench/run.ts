// `npm run bench`: seeds a database of its own, starts the service as
// `npm start` would and the bare floor beside it, drives both with autocannon,
// prints a table and writes bench/results/<timestamp>.json. Everything it
// starts (processes, temp dir, PostgreSQL schema) is undone on exit, on errors,
// on Ctrl-C/SIGTERM/SIGHUP and when its output is closed; if the run is killed
// outright (SIGKILL), its reaper (bench/reaper.ts) undoes it.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, release, tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import type { Request } from 'autocannon'
import pg from 'pg'
import {
  assertWritable,
  type BenchOptions,
  parseBenchArgs,
  SCENARIO_NAMES,
  USAGE,
  UsageError,
} from './args.ts'
import { SEARCH_WORDS, STATUS_VALUES } from './data.ts'
import { combine, drive, perRequestMs, type Slice, stopLoad } from './load.ts'
import {
  cleanupAll,
  fileStamp,
  freePort,
  highWaterRss,
  npmStart,
  OUTPUT_CLOSED_EXIT,
  onCleanup,
  onOutputClosed,
  onStopSignal,
  ROOT,
  STOP_SIGNALS,
  type Started,
  startNode,
} from './processes.ts'
import { checks, checksText, type Row, searchCacheText, table } from './report.ts'
import { type Fixtures, floorScenarios, serviceScenarios } from './scenarios.ts'
import { benchSchemaFor, createBenchSchema, dropBenchSchema } from './schema.ts'
import { seedPostgres, seedSqlite } from './seed.ts'
import { api, benchSession, topUpPatchPool } from './session.ts'

const say = (line: string) => process.stdout.write(`${line}\n`)

let options: BenchOptions
try {
  const parsed = parseBenchArgs(process.argv.slice(2))
  if (parsed === 'help') {
    process.stdout.write(USAGE)
    process.exit(0)
  }
  options = parsed
  if (options.out !== undefined) assertWritable(options.out)
} catch (error) {
  if (!(error instanceof UsageError)) throw error
  process.stderr.write(`bench: ${error.message}\n\n${USAGE}`)
  process.exit(2)
}

let interrupted = false
/** Stops the load and everything the run started, then exits with `code`; the first call wins. */
function stopEverything(code: number, why: string) {
  if (interrupted) return
  interrupted = true
  process.stderr.write(`\nbench: ${why}: stopping everything it started…\n`)
  stopLoad()
  void cleanupAll().finally(() => process.exit(code))
}
onStopSignal((signal) => stopEverything(STOP_SIGNALS[signal], signal))
onOutputClosed(() => stopEverything(OUTPUT_CLOSED_EXIT, 'output closed'))
// A throw from inside autocannon's callbacks (a request list's code) escapes every await.
const escaped = (error: unknown) =>
  stopEverything(1, error instanceof Error ? (error.stack ?? error.message) : String(error))
process.on('uncaughtException', escaped)
process.on('unhandledRejection', escaped)

/**
 * Cursors of deep pages, walked through the API the way a client would: pages of 100 from halfway
 * through the first 100 pages (smaller pages on small data, so there are always pages past the first).
 */
async function deepCursors(base: string, token: string, live: number): Promise<string[]> {
  const limit = Math.min(100, Math.max(1, Math.floor(live / 4)))
  const pages = Math.max(2, Math.min(100, Math.floor(live / (2 * limit))))
  const cursors: string[] = []
  let cursor: string | null = null
  for (let page = 0; page < pages; page++) {
    const res = await api(base, `/v1/tasks?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}`, { token })
    if (res.status !== 200) throw new Error(`walking pages failed: ${res.status}`)
    cursor = (res.json.page as { nextCursor: string | null }).nextCursor
    if (!cursor) break
    if (page >= pages / 2) cursors.push(cursor)
  }
  if (cursors.length === 0) throw new Error(`walking pages found no page past the first (${live} live tasks)`)
  return cursors
}

async function main(): Promise<void> {
  const started = new Date()
  const stamp = fileStamp(started)
  const out = resolve(options.out ?? join(ROOT, 'bench/results', `${stamp}.json`))
  mkdirSync(dirname(out), { recursive: true })
  const baseUrl = process.env.DATABASE_URL
  const engine = baseUrl ? 'postgres' : 'sqlite'
  const dir = mkdtempSync(join(tmpdir(), 'tt-bench-'))
  onCleanup('remove temp dir', () => rmSync(dir, { recursive: true, force: true }), {
    kind: 'dir',
    name: 'temp dir',
    path: dir,
  })

  let databaseUrl: string | undefined
  if (baseUrl) {
    const { schema, url } = benchSchemaFor(baseUrl)
    // Its drop is registered before the creation starts, and waits for it: a Ctrl-C while the
    // schema is being created still drops it.
    const creating = createBenchSchema(baseUrl, schema)
    onCleanup(
      `drop schema ${schema}`,
      async () => {
        // A creation that failed made nothing to drop, and a server that refused it (or cannot be
        // reached) would only make the drop, and then the reaper's, wait and fail too.
        const created = await creating.then(
          () => true,
          () => false,
        )
        if (created) await dropBenchSchema(baseUrl, schema)
      },
      { kind: 'schema', name: `schema ${schema}`, baseUrl, schema },
    )
    await creating
    databaseUrl = url
    say(`engine: PostgreSQL, throwaway schema ${schema}`)
  } else say(`engine: SQLite in ${dir}`)

  say(
    `seeding ${options.users.toLocaleString('en-US')} users and ${options.tasks.toLocaleString('en-US')} tasks…`,
  )
  const sizes = { users: options.users, tasks: options.tasks }
  const seeded = databaseUrl ? await seedPostgres(databaseUrl, dir, sizes) : await seedSqlite(dir, sizes)
  say(
    `seeded in ${seeded.seconds.toFixed(1)} s (${seeded.liveTasks} live, ${seeded.deletedTasks} soft-deleted)`,
  )

  const baseEnv: Record<string, string> = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? tmpdir(),
    DATA_DIR: dir,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
  }
  const floorPort = await freePort()
  const floor = await startNode({
    name: 'floor',
    args: [join(ROOT, 'bench/floor.ts')],
    env: {
      ...baseEnv,
      FLOOR_PORT: String(floorPort),
      FLOOR_PROBE_ID: seeded.sampleIds[0] as string,
      FLOOR_USER_ID: seeded.benchUser.id,
    },
    port: floorPort,
    logFile: join(dir, 'floor.log'),
    cwd: dir,
    healthPath: '/health',
  })

  const profileDir = join(ROOT, 'bench/results/profiles', stamp)
  if (options.cpuProf) mkdirSync(profileDir, { recursive: true })
  const port = await freePort()
  const start = npmStart()
  const startService = (name: string, cpuProf: boolean) =>
    startNode({
      name,
      args: [
        ...start.flags,
        ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
        join(ROOT, start.entry),
      ],
      env: {
        ...baseEnv,
        ...start.env,
        NODE_ENV: 'production',
        PORT: String(port),
        HOST: '127.0.0.1',
        LOG_LEVEL: 'info',
        // Limits stay on, raised so the load is not answered with 429s.
        RATE_LIMIT_PER_MINUTE: '1000000',
        RATE_LIMIT_ANON_PER_MINUTE: '1000000',
      },
      port,
      logFile: join(dir, 'service.log'),
      cwd: dir,
      healthPath: '/ready',
    })
  // A first start fills Node's compile cache (src/start.js) where this checkout has not started
  // since its last change; the measured service is a later start, as a deployment's are.
  await (await startService('service (compile-cache warm-up)', false)).stop()
  if (interrupted) return
  const service = await startService('service', options.cpuProf)
  say(`service pid ${service.pid} on ${service.url} (log: LOG_LEVEL=info to a file), floor pid ${floor.pid}`)

  const tokenFor = benchSession(service.url, seeded.benchUser.email)
  const fixtures: Fixtures = {
    ids: seeded.sampleIds,
    statuses: STATUS_VALUES,
    cursors: await deepCursors(service.url, await tokenFor(0), seeded.liveTasks),
    words: SEARCH_WORDS,
    patchPool: [],
    patchPooled: new Set(),
  }
  interface Job {
    name: string
    title: string
    target: 'service' | 'floor'
    process: Started
    requests: () => Request[]
    /** Runs before every load of the job (warm-up and slices alike); answers its headers. */
    prepare?: (seconds: number) => Promise<Record<string, string>>
  }
  const load = async (job: Job, duration: number) => {
    const headers = await job.prepare?.(duration)
    // A stop that came while the job was being prepared: no new load on a service shutting down
    // (the exit follows the cleanup; the top level ignores this error once a stop has begun).
    if (interrupted) throw new Error('stopped')
    return drive({
      url: job.process.url,
      pid: job.process.pid,
      connections: options.connections,
      duration,
      headers,
      requests: job.requests,
      postgresCpu: engine === 'postgres',
    })
  }
  /**
   * Warms every job up, then runs them in alternating slices (floor, service, floor, …)
   * so a change in the machine's load hits both sides of a ratio alike.
   */
  const measure = async (jobs: Job[], rounds: number): Promise<Row[]> => {
    for (const job of jobs) if (options.warmup > 0) await load(job, options.warmup)
    const slices = new Map<Job, Slice[]>(jobs.map((j) => [j, []]))
    for (let round = 0; round < rounds && !interrupted; round++)
      for (const job of jobs) slices.get(job)?.push(await load(job, options.duration / rounds))
    return jobs.map((job) => ({
      ...combine(slices.get(job) ?? []),
      scenario: job.name,
      title: job.title,
      target: job.target,
    }))
  }

  const rows: Row[] = []
  const wanted = options.only ?? [...SCENARIO_NAMES]
  for (const name of SCENARIO_NAMES) {
    if (!wanted.includes(name) || interrupted) continue
    const spec = serviceScenarios[name]
    if (!spec) continue
    const jobs: Job[] = Object.entries(floorScenarios)
      .filter(([, f]) => f.of === name)
      .map(([floorName, f]) => ({
        name: floorName,
        title: f.title,
        target: 'floor' as const,
        process: floor,
        requests: () => f.requests(fixtures),
      }))
    jobs.push({
      name,
      title: spec.title,
      target: 'service',
      process: service,
      requests: () => spec.kinds(fixtures),
      prepare: async (seconds) => {
        const token = await tokenFor(seconds)
        // A load that stops leaves a PATCH in flight on every connection, and those tasks leave
        // the pool: it is topped up before every load, not once per scenario.
        if (spec.patches) {
          const size = Math.max(2 * options.connections, 64)
          await topUpPatchPool(service.url, token, seeded.ownTaskIds, fixtures, size)
        }
        return { authorization: `Bearer ${token}` }
      },
    })
    say(`  ${jobs.map((j) => j.name).join(', ')}…`)
    const cacheBefore = await searchCacheOf(service.url)
    const measured = await measure(jobs, jobs.length > 1 ? options.rounds : 1)
    const row = measured[measured.length - 1] as Row
    const cacheAfter = await searchCacheOf(service.url)
    if (cacheBefore && cacheAfter)
      row.searchCache = {
        hits: cacheAfter.hits - cacheBefore.hits,
        misses: cacheAfter.misses - cacheBefore.misses,
      }
    const floorRows = measured.slice(0, -1)
    const sameSql = floorRows.find((r) => r.scenario !== 'floor-naive')
    const naive = floorRows.find((r) => r.scenario === 'floor-naive')
    if (sameSql) Object.assign(row, { floorRps: sameSql.rps, ratio: row.rps / Math.max(sameSql.rps, 1) })
    if (naive) Object.assign(row, { naiveRps: naive.rps, naiveRatio: row.rps / Math.max(naive.rps, 1) })
    rows.push(row, ...floorRows)
  }

  const serviceMemory = await memoryOf(service.url)
  const serviceHwmMb = highWaterRss(service.pid)
  const floorHwmMb = highWaterRss(floor.pid)
  await service.stop()
  await floor.stop()
  const engineVersion = await engineVersionOf(databaseUrl)

  const list = checks(rows, serviceHwmMb)
  say('')
  say(table(rows))
  say('')
  say(
    `service peak RSS ${serviceHwmMb ?? '—'} MB (at the end: ${JSON.stringify(serviceMemory)}), floor peak RSS ${floorHwmMb ?? '—'} MB`,
  )
  const cacheLine = searchCacheText(rows)
  if (cacheLine) say(cacheLine)
  say('targets (issue 6):')
  say(checksText(list))

  const record = {
    startedAt: started.toISOString(),
    engine,
    engineVersion,
    sizes: {
      users: options.users,
      tasks: options.tasks,
      liveTasks: seeded.liveTasks,
      deletedTasks: seeded.deletedTasks,
    },
    seedSeconds: Number(seeded.seconds.toFixed(1)),
    options: {
      duration: options.duration,
      warmup: options.warmup,
      rounds: options.rounds,
      connections: options.connections,
      quick: options.quick,
      only: options.only ?? [...SCENARIO_NAMES],
      cpuProf: options.cpuProf,
    },
    versions: {
      node: process.versions.node,
      service: (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version,
      autocannon: (
        JSON.parse(readFileSync(join(ROOT, 'node_modules/autocannon/package.json'), 'utf8')) as {
          version: string
        }
      ).version,
    },
    machine: { cores: cpus().length, cpu: cpus()[0]?.model, os: release(), loadavg: loadavg() },
    serviceHwmMb,
    serviceMemory,
    floorHwmMb,
    scenarios: rows.map((r) => ({
      scenario: r.scenario,
      title: r.title,
      target: r.target,
      rps: r.rps,
      p50ms: r.p50,
      p99ms: r.p99,
      maxMs: r.max,
      requests: r.requests,
      errors: r.errors,
      statusCodes: r.statusCodes,
      rssMb: r.rssMb,
      floorRps: r.floorRps,
      // Unrounded: rounded, 0.5996 would read as 0.6 beside its check's MISS.
      ratio: r.ratio,
      naiveRps: r.naiveRps,
      naiveRatio: r.naiveRatio,
      searchCache: r.searchCache,
      cpuMsPerRequest: rounded(perRequestMs(r.cpuSeconds, r.requests)),
      dbCpuMsPerRequest: rounded(perRequestMs(r.dbCpuSeconds, r.requests)),
    })),
    checks: list,
    ...(options.cpuProf ? { profileDir } : {}),
  }
  writeFileSync(out, `${JSON.stringify(record, null, 2)}\n`)
  say(`\nwrote ${out}${options.cpuProf ? `; CPU profile in ${profileDir}` : ''}`)
}

/** The service's search cache counts from /metrics, or undefined when it reports none (SEARCH_CACHE_MB=0). */
async function searchCacheOf(base: string): Promise<{ hits: number; misses: number } | undefined> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const count = (result: string) =>
    new RegExp(`^db_search_results_total\\{result="${result}"\\} (\\S+)`, 'm').exec(text)?.[1]
  const hits = count('hit')
  const misses = count('miss')
  return hits === undefined || misses === undefined
    ? undefined
    : { hits: Number(hits), misses: Number(misses) }
}

/** The service's own memory figures from /metrics (MB), to tell heap from native memory in the RSS. */
async function memoryOf(base: string): Promise<Record<string, number>> {
  const text = await (await fetch(`${base}/metrics`)).text()
  const out: Record<string, number> = {}
  for (const name of [
    'process_resident_memory_bytes',
    'nodejs_heap_size_total_bytes',
    'nodejs_heap_size_used_bytes',
    'nodejs_external_memory_bytes',
  ]) {
    const m = new RegExp(`^${name} (\\S+)`, 'm').exec(text)
    if (m) out[name.replace(/_bytes$/, '_mb')] = Math.round(Number(m[1]) / 1_048_576)
  }
  return out
}

const rounded = (n: number | undefined) => (n === undefined ? undefined : Number(n.toFixed(4)))

async function engineVersionOf(databaseUrl: string | undefined): Promise<string> {
  if (!databaseUrl) {
    const { DatabaseSync } = await import('node:sqlite')
    const db = new DatabaseSync(':memory:')
    const row = db.prepare('SELECT sqlite_version() AS v').get() as { v: string }
    db.close()
    return `SQLite ${row.v}`
  }
  const client = new pg.Client({ connectionString: databaseUrl })
  await client.connect()
  try {
    const { rows } = await client.query<{ v: string }>("SELECT current_setting('server_version') AS v")
    return `PostgreSQL ${rows[0]?.v}`
  } finally {
    await client.end()
  }
}

try {
  await main()
  await cleanupAll()
} catch (error) {
  if (!interrupted) {
    process.stderr.write(
      `bench: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
    )
    await cleanupAll()
    process.exit(1)
  }
}

// `npm run bench:scale`: issue 6's scale target, the first page of a status-filtered list with
// `page.total` at a large data set (1M tasks) within twice its latency at a small one (10k).
// It runs `bench/run.ts --only list` once per size, each on a database of its own (seeded, then
// removed by that run), and compares the service's p50. Everything else the runs do (engine from
// DATABASE_URL, cleanup on Ctrl-C, the JSON record) is bench/run.ts's own: a run per size,
// composed, rather than a second harness.
import { spawn } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { parseArgs } from 'node:util'
import { parseBenchArgs, UsageError } from './args.ts'
import { ROOT } from './processes.ts'

const USAGE = `Usage: npm run bench:scale -- [options]

Runs the list scenario (first page, status filter, page.total) on a small and a
large data set, each seeded afresh, and checks issue 6's target: the service's
p50 at the large size at most 2 × its p50 at the small one. Engine: SQLite, or
PostgreSQL when DATABASE_URL is set. Seeding 1M tasks takes a few minutes.

Options:
  --small N          tasks in the small data set (default 10000)
  --large N          tasks in the large data set (default 1000000)
  --out FILE         write the comparison here (default
                     bench/results/<timestamp>-scale.json); each size's own
                     record goes beside it, named <FILE without .json>-<N>.json
  --users, --duration, --warmup, --rounds, --connections
                     passed to each run (npm run bench -- --help); here
                     --duration defaults to 6 and --rounds to 2
  -h, --help         show this message
`

/** The target: the large size's p50 at most this many times the small size's. */
const TARGET = 2

interface ListFigures {
  tasks: number
  p50ms: number
  p99ms: number
  rps: number
  errors: number
  cpuMsPerRequest?: number
  naiveRatio?: number
  record: string
}

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      small: { type: 'string' },
      large: { type: 'string' },
      users: { type: 'string' },
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (values.help) return 'help' as const
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`)
  const passed: string[] = ['--duration', values.duration ?? '6', '--rounds', values.rounds ?? '2']
  for (const name of ['users', 'warmup', 'connections'] as const) {
    const value = values[name]
    if (value !== undefined) passed.push(`--${name}`, value)
  }
  // The sizes and the flags passed on are checked as bench/run.ts checks them, before any seeding.
  const size = (name: string, raw: string | undefined, fallback: number) => {
    const parsed = parseBenchArgs(['--tasks', raw ?? String(fallback), ...passed])
    if (parsed === 'help') throw new UsageError(`--${name}: unexpected help`)
    return parsed.tasks
  }
  const small = size('small', values.small, 10_000)
  const large = size('large', values.large, 1_000_000)
  if (large <= small) throw new UsageError(`--large (${large}) must be more tasks than --small (${small})`)
  return { small, large, passed, out: values.out }
}

let options: ReturnType<typeof parse>
try {
  options = parse(process.argv.slice(2))
} catch (error) {
  const message = error instanceof Error ? error.message : String(error)
  process.stderr.write(`bench:scale: ${message}\n\n${USAGE}`)
  process.exit(2)
}
if (options === 'help') {
  process.stdout.write(USAGE)
  process.exit(0)
}
const { small, large, passed } = options

let child: ReturnType<typeof spawn> | undefined
let interrupted = false
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    interrupted = true
    // The run in progress cleans up after itself on the same signal; its exit ends this one.
    if (child && child.exitCode === null) child.kill(signal)
    else process.exit(signal === 'SIGINT' ? 130 : 143)
  })
}

const out =
  options.out ?? join(ROOT, 'bench/results', `${new Date().toISOString().replace(/[:.]/g, '-')}-scale.json`)
mkdirSync(dirname(out), { recursive: true })

/** One `bench/run.ts --only list` at a size; resolves with the service's list figures. */
function runAt(tasks: number): Promise<ListFigures> {
  const record = `${out.replace(/\.json$/, '')}-${tasks}.json`
  const args = ['bench/run.ts', '--only', 'list', '--tasks', String(tasks), ...passed, '--out', record]
  process.stdout.write(`\nbench:scale: ${tasks.toLocaleString('en-US')} tasks (node ${args.join(' ')})\n`)
  return new Promise((resolve, reject) => {
    child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit' })
    child.once('error', reject)
    child.once('exit', (code, signal) => {
      if (interrupted) process.exit(signal === 'SIGTERM' || code === 143 ? 143 : 130)
      if (code !== 0) return reject(new Error(`the run at ${tasks} tasks failed (exit ${code ?? signal})`))
      const json = JSON.parse(readFileSync(record, 'utf8')) as {
        scenarios: {
          scenario: string
          p50ms: number
          p99ms: number
          rps: number
          errors: number
          cpuMsPerRequest?: number
          naiveRatio?: number
        }[]
      }
      const list = json.scenarios.find((s) => s.scenario === 'list')
      if (!list) return reject(new Error(`${record} has no list row`))
      resolve({ tasks, record, ...list })
    })
  })
}

try {
  const at = [await runAt(small), await runAt(large)] as const
  // autocannon's latencies are whole milliseconds: a p50 under 1 ms counts as 1 ms.
  const ratio = Math.max(at[1].p50ms, 1) / Math.max(at[0].p50ms, 1)
  const ok = ratio <= TARGET && at.every((f) => f.errors === 0)
  const line = (f: ListFigures) =>
    `  ${`${f.tasks.toLocaleString('en-US')} tasks:`.padEnd(18)} p50 ${f.p50ms} ms, p99 ${f.p99ms} ms, ` +
    `${f.rps.toLocaleString('en-US')} req/s, ${f.cpuMsPerRequest ?? '—'} ms CPU per list, ` +
    `${f.naiveRatio?.toFixed(1) ?? '—'}× the naive floor, ${f.errors} errors`
  process.stdout.write(
    `\nlist first page with page.total (service, the same flags at both sizes):\n${line(at[0])}\n${line(at[1])}\n` +
      `target (issue 6):\n  ${ok ? 'PASS' : 'MISS'}  list p50 at ${large.toLocaleString('en-US')} tasks ≤ ` +
      `${TARGET} × at ${small.toLocaleString('en-US')}: ${ratio.toFixed(2)}×` +
      `${at.some((f) => f.errors > 0) ? ' (with errors)' : ''}\n`,
  )
  writeFileSync(
    out,
    `${JSON.stringify({ target: `list p50 at ${large} tasks ≤ ${TARGET} × at ${small}`, ratio, ok, sizes: at }, null, 2)}\n`,
  )
  process.stdout.write(`\nwrote ${out}\n`)
} catch (error) {
  process.stderr.write(`bench:scale: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
}

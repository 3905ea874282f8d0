// `npm run bench:scale`: issue 6's scale target, the first page of a status-filtered list with
// `page.total` at a large data set (1M tasks) within twice its latency at a small one (10k).
// It runs `bench/run.ts --only list` once per size, each on a database of its own (seeded, then
// removed by that run), and compares the service's p50. Everything else the runs do (engine from
// DATABASE_URL, cleanup on Ctrl-C, the JSON record) is bench/run.ts's own: a run per size,
// composed, rather than a second harness.
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { assertJsonName, assertWritable, LOAD_OPTIONS, parseBenchArgs, UsageError } from './args.ts'
import {
  fileStamp,
  OUTPUT_CLOSED_EXIT,
  onOutputClosed,
  onStopSignal,
  ROOT,
  reapIfKilled,
  STOP_SIGNALS,
  type StopSignal,
  startTimeOf,
} from './processes.ts'
import { scaleVerdict } from './report.ts'

const USAGE = `Usage: npm run bench:scale -- [options]

Runs the list scenario (first page, status filter, page.total) on a small and a
large data set, each seeded afresh, and checks issue 6's target: the service's
p50 at the large size at most 2 × its p50 at the small one. Engine: SQLite, or
PostgreSQL when DATABASE_URL is set. Seeding 1M tasks takes a few minutes.
p50s are whole milliseconds, so the verdict is PASS or MISS only where they
decide it, UNSURE otherwise. Like npm run bench, it reports and exits 0 whatever
the verdict; 1 when a run fails, 2 on a bad flag.

Options:
  --small N          tasks in the small data set (default 10000)
  --large N          tasks in the large data set (default 1000000)
  --out FILE.json    write the comparison here (default
                     bench/results/<timestamp>-scale.json); each size's own
                     record goes beside it, as FILE-<N>.json
  --users, --duration, --warmup, --rounds, --connections
                     passed to each run (npm run bench -- --help); here
                     --duration defaults to 6 and --rounds to 2
  -h, --help         show this message
`

/** The target: the large size's p50 at most this many times the small size's. */
const LIMIT = 2
const PASSED_ON = Object.keys(LOAD_OPTIONS) as (keyof typeof LOAD_OPTIONS)[]

function parse(argv: string[]) {
  const { values, positionals } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      small: { type: 'string' },
      large: { type: 'string' },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
      ...LOAD_OPTIONS,
    },
  })
  if (values.help) return 'help' as const
  if (positionals.length > 0) throw new UsageError(`unexpected argument "${positionals[0]}"`)
  const given: Record<string, string> = { duration: '6', rounds: '2' }
  for (const name of PASSED_ON) {
    const value = values[name]
    if (value !== undefined) given[name] = value
  }
  // In the --name=value form, so a value that starts with "-" is a value, not a flag.
  const passed = Object.entries(given).map(([name, value]) => `--${name}=${value}`)
  // Each run's own flags, checked as bench/run.ts checks them, before anything is seeded.
  const size = (name: 'small' | 'large', fallback: number) => {
    const raw = values[name] ?? String(fallback)
    try {
      return (parseBenchArgs([`--tasks=${raw}`, ...passed]) as { tasks: number }).tasks
    } catch (error) {
      throw error instanceof UsageError
        ? new UsageError(error.message.replace('--tasks', `--${name}`))
        : error
    }
  }
  const small = size('small', 10_000)
  const large = size('large', 1_000_000)
  if (large <= small) throw new UsageError(`--large (${large}) must be more tasks than --small (${small})`)
  if (values.out !== undefined) assertJsonName(values.out)
  const out = resolve(values.out ?? join(ROOT, 'bench/results', `${fileStamp(new Date())}-scale.json`))
  // Checked now, not after minutes of seeding and two runs (each run checks its own record's too).
  assertWritable(out)
  return { small, large, passed, out }
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
const { small, large, passed, out } = options

let child: ReturnType<typeof spawn> | undefined
/** The exit code once a stop was asked for (a signal, or this command's output closed). */
let stopping: number | undefined
const stop = (code: number, signal: StopSignal) => {
  stopping ??= code
  // The run in progress cleans up after itself on the same signal; its exit ends this one.
  if (child && child.exitCode === null && child.signalCode === null) child.kill(signal)
  else process.exit(stopping)
}
onStopSignal((signal) => stop(STOP_SIGNALS[signal], signal))
onOutputClosed(() => stop(OUTPUT_CLOSED_EXIT, 'SIGTERM'))

interface ListFigures {
  tasks: number
  p50ms: number
  p99ms: number
  rps: number
  errors: number
  cpuMsPerRequest?: number
  naiveRatio?: number
  /** The run's own record. */
  record: string
}

/** One `bench/run.ts --only list` at a size; resolves with the service's list figures. */
function runAt(tasks: number): Promise<ListFigures> {
  const record = `${out.replace(/\.json$/, '')}-${tasks}.json`
  const args = ['bench/run.ts', '--only=list', `--tasks=${tasks}`, ...passed, `--out=${record}`]
  process.stdout.write(`\nbench:scale: ${tasks.toLocaleString('en-US')} tasks (node ${args.join(' ')})\n`)
  return new Promise((done, fail) => {
    child = spawn(process.execPath, args, { cwd: ROOT, stdio: 'inherit' })
    child.once('error', fail)
    // Killed outright, this command leaves its run to the reaper, which stops it as Ctrl-C would.
    const forget =
      child.pid === undefined
        ? undefined
        : reapIfKilled({
            kind: 'process',
            name: `the run at ${tasks} tasks`,
            pid: child.pid,
            started: startTimeOf(child.pid),
            graceMs: 60_000,
          })
    child.once('exit', (code, signal) => {
      forget?.()
      if (stopping !== undefined) process.exit(stopping)
      // The run shares this command's output and usually finds it closed first (`| head`).
      if (code === OUTPUT_CLOSED_EXIT) process.exit(OUTPUT_CLOSED_EXIT)
      if (code !== 0) return fail(new Error(`the run at ${tasks} tasks failed (exit ${code ?? signal})`))
      try {
        const json = JSON.parse(readFileSync(record, 'utf8')) as {
          scenarios: (ListFigures & { scenario: string })[]
        }
        const row = json.scenarios.find((s) => s.scenario === 'list')
        if (!row) throw new Error(`${record} has no list row`)
        const { p50ms, p99ms, rps, errors, cpuMsPerRequest, naiveRatio } = row
        done({ tasks, p50ms, p99ms, rps, errors, cpuMsPerRequest, naiveRatio, record })
      } catch (error) {
        fail(error)
      }
    })
  })
}

try {
  const at = [await runAt(small), await runAt(large)] as const
  const { ratio, low, high, verdict: byLatency } = scaleVerdict(at[0].p50ms, at[1].p50ms, LIMIT)
  const errors = at.some((f) => f.errors > 0)
  const verdict = errors ? 'MISS' : byLatency
  const line = (f: ListFigures) =>
    `  ${`${f.tasks.toLocaleString('en-US')} tasks:`.padEnd(18)} p50 ${f.p50ms} ms, p99 ${f.p99ms} ms, ` +
    `${f.rps.toLocaleString('en-US')} req/s, ${f.cpuMsPerRequest ?? '—'} ms CPU per list, ` +
    `${f.naiveRatio?.toFixed(1) ?? '—'}× the naive floor, ${f.errors} errors`
  const bounds = `${low.toFixed(2)}–${Number.isFinite(high) ? high.toFixed(2) : '∞'}×`
  process.stdout.write(
    `\nlist first page with page.total (service, the same flags at both sizes):\n${line(at[0])}\n${line(at[1])}\n` +
      `target (issue 6):\n  ${verdict}  list p50 at ${large.toLocaleString('en-US')} tasks ≤ ` +
      `${LIMIT} × at ${small.toLocaleString('en-US')}: ${ratio.toFixed(2)}× (whole-ms p50s allow ${bounds})` +
      `${errors ? ', with errors' : ''}\n`,
  )
  const engine = process.env.DATABASE_URL ? 'postgres' : 'sqlite'
  const target = `list p50 at ${large} tasks ≤ ${LIMIT} × at ${small}`
  writeFileSync(out, `${JSON.stringify({ engine, target, verdict, ratio, low, high, sizes: at }, null, 2)}\n`)
  process.stdout.write(`\nwrote ${out}\n`)
} catch (error) {
  process.stderr.write(`bench:scale: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
}

// Command-line flags of `npm run bench`: parsed strictly, so a typo is a usage
// message and a non-zero exit rather than a silently different benchmark.
import { accessSync, constants, mkdirSync, statSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parseArgs } from 'node:util'

export interface BenchOptions {
  tasks: number
  users: number
  /** Seconds each measured run lasts. */
  duration: number
  /** Seconds of unmeasured load before each measured run. */
  warmup: number
  /** Alternating slices a scenario and its floors are split into. */
  rounds: number
  connections: number
  quick: boolean
  cpuProf: boolean
  /** Scenario names to run; all when undefined. */
  only: string[] | undefined
  /** Where the JSON result goes; bench/results/<timestamp>.json when undefined. */
  out: string | undefined
}

export const USAGE = `Usage: npm run bench -- [options]

Seeds a database of its own, starts the service as \`npm start\` would, drives it
with autocannon and prints requests/s, latency and ratios to a bare node:http floor.
Engine: SQLite, or PostgreSQL when DATABASE_URL is set (a throwaway schema is
created in that database and dropped at the end).

Options:
  --tasks N          tasks to seed (default 100000; --quick: 2000)
  --users N          users to seed (default 1000; --quick: 50)
  --duration S       seconds per measured run (default 10; --quick: 2)
  --warmup S         seconds of warm-up before each run (default 2; --quick: 0.5)
  --rounds N         split a scenario and its floors into N alternating slices
                     (floor, service, floor, …) so load changes hit both sides of
                     a ratio alike (default 3; --quick: 1)
  --connections N    concurrent connections (default 32)
  --only a,b         run only these scenarios (get, list, deep, search, create, patch, mix)
  --cpu-prof         write a V8 CPU profile of the service to bench/results/profiles/
  --out FILE.json    write the JSON result here instead of bench/results/<timestamp>.json
  --quick            small data and short runs (a smoke test, under 2 minutes)
  -h, --help         show this message
`

export const SCENARIO_NAMES = ['get', 'list', 'deep', 'search', 'create', 'patch', 'mix'] as const

export class UsageError extends Error {}

function positiveNumber(name: string, raw: string | undefined, integer: boolean, min: number): number {
  if (raw === undefined) throw new UsageError(`--${name} needs a value`)
  // Number('') and Number(' ') are 0: an empty value is a typo, not zero.
  const value = raw.trim() === '' ? Number.NaN : Number(raw)
  if (!Number.isFinite(value) || value < min || (integer && !Number.isInteger(value)))
    throw new UsageError(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got "${raw}"`)
  return value
}

/** Parses argv (without node and script); throws UsageError on anything it does not understand. */
export function parseBenchArgs(argv: string[]): BenchOptions | 'help' {
  let parsed: ReturnType<typeof parse>
  try {
    parsed = parse(argv)
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error))
  }
  const v = parsed.values
  if (v.help) return 'help'
  if (parsed.positionals.length > 0) throw new UsageError(`unexpected argument "${parsed.positionals[0]}"`)
  const quick = v.quick === true
  const only = v.only?.split(',').map((s) => s.trim())
  for (const name of only ?? [])
    if (!(SCENARIO_NAMES as readonly string[]).includes(name))
      throw new UsageError(`--only: unknown scenario "${name}" (known: ${SCENARIO_NAMES.join(', ')})`)
  const options: BenchOptions = {
    tasks: v.tasks !== undefined ? positiveNumber('tasks', v.tasks, true, 100) : quick ? 2000 : 100_000,
    users: v.users !== undefined ? positiveNumber('users', v.users, true, 2) : quick ? 50 : 1000,
    duration: v.duration !== undefined ? positiveNumber('duration', v.duration, false, 1) : quick ? 2 : 10,
    warmup: v.warmup !== undefined ? positiveNumber('warmup', v.warmup, false, 0) : quick ? 0.5 : 2,
    rounds: v.rounds !== undefined ? positiveNumber('rounds', v.rounds, true, 1) : quick ? 1 : 3,
    connections: v.connections !== undefined ? positiveNumber('connections', v.connections, true, 1) : 32,
    quick,
    cpuProf: v['cpu-prof'] === true,
    only,
    out: v.out,
  }
  if (options.duration > 600) throw new UsageError('--duration must be at most 600 seconds')
  if (options.tasks > 20_000_000) throw new UsageError('--tasks must be at most 20000000')
  if (options.out !== undefined) assertJsonName(options.out)
  return options
}

/** Refuses an --out that does not name a .json file (a folder, or another kind of file). */
export function assertJsonName(out: string): void {
  if (!/[^/]\.json$/.test(out)) throw new UsageError(`--out must name a .json file, got "${out}"`)
}

/**
 * Refuses an --out the record could not be written to (a directory, or a folder that cannot be
 * created or written), before anything starts rather than after the run; creates its folder.
 */
export function assertWritable(out: string): void {
  const path = resolve(out)
  try {
    mkdirSync(dirname(path), { recursive: true })
    accessSync(dirname(path), constants.W_OK)
  } catch (error) {
    throw new UsageError(`--out ${path} cannot be written: ${(error as NodeJS.ErrnoException).code ?? error}`)
  }
  let isDirectory = false
  try {
    isDirectory = statSync(path).isDirectory()
  } catch {
    // not there yet
  }
  if (isDirectory) throw new UsageError(`--out ${path} is a directory`)
}

/** The flags that shape the load of a run, which `npm run bench:scale` passes on to its runs. */
export const LOAD_OPTIONS = {
  users: { type: 'string' },
  duration: { type: 'string' },
  warmup: { type: 'string' },
  rounds: { type: 'string' },
  connections: { type: 'string' },
} as const

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    strict: true,
    allowPositionals: true,
    options: {
      tasks: { type: 'string' },
      ...LOAD_OPTIONS,
      only: { type: 'string' },
      out: { type: 'string' },
      quick: { type: 'boolean' },
      'cpu-prof': { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
}

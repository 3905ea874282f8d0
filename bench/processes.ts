// Processes and resources the harness starts, and the one place that stops
// them all: on success, on errors and on Ctrl-C/SIGTERM/SIGHUP, in reverse order.
import { type ChildProcess, spawn } from 'node:child_process'
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs'
import { createServer, type Socket } from 'node:net'
import { join } from 'node:path'

export const ROOT = join(import.meta.dirname, '..')
/** The project's pinned Node 24 (node_modules/.bin/node), as `npm start` uses it. */
const pinned = join(ROOT, 'node_modules/.bin/node')
export const NODE = existsSync(pinned) ? pinned : process.execPath

/** Something a run started that bench/reaper.ts undoes if the run is killed before it can. */
export type Leftover = { name: string } & (
  | {
      kind: 'process'
      pid: number
      /** Its start time (`startTimeOf`): a pid given to another process since is left alone. */
      started: string | undefined
      /** How long it may take to stop on SIGTERM before it gets SIGKILL. */
      graceMs: number
    }
  | { kind: 'dir'; path: string }
  | { kind: 'schema'; baseUrl: string; schema: string }
)
export type ReaperMessage = { add: number; leftover: Leftover } | { done: number }

/** The reaper's pipe; null once it could not be started or has gone (the run goes on without it). */
let reaperPipe: Socket | null | undefined
let reaperIds = 0
function tellReaper(message: ReaperMessage): void {
  if (reaperPipe === undefined) {
    // Detached: a session of its own, out of reach of the signals sent to the run's process group
    // (the terminal's Ctrl-C, or a kill of the whole group). It writes to the run's stderr.
    const reaper = spawn(process.execPath, [join(ROOT, 'bench/reaper.ts')], {
      detached: true,
      windowsHide: true,
      stdio: ['pipe', 'ignore', 'inherit'],
    })
    reaper.on('error', (error) => {
      process.stderr.write(`bench: no reaper (${error.message}): a run killed outright leaves its servers\n`)
      reaperPipe = null
    })
    reaper.unref()
    reaperPipe = reaper.stdin as Socket | null // null when the pipe could not be made (EMFILE)
    reaperPipe?.unref() // the pipe must not keep the run alive: it closes when the run exits
    reaperPipe?.on('error', () => {}) // a reaper that is gone cannot help; the run goes on
  }
  // On Linux and macOS a write to a pipe with room in it is done before write() returns, so a
  // kill right after it loses nothing (Windows writes pipes asynchronously).
  reaperPipe?.write(`${JSON.stringify(message)}\n`)
}

/**
 * Tells the reaper (bench/reaper.ts) to undo `leftover` if this process ends before the returned
 * function is called. The process's own cleanups call it once they have undone it themselves.
 */
export function reapIfKilled(leftover: Leftover): () => void {
  const id = ++reaperIds
  tellReaper({ add: id, leftover })
  return () => tellReaper({ done: id })
}

/**
 * A process's start time, in clock ticks since boot (/proc/<pid>/stat, field 22), which tells it
 * from a later process given the same pid. Undefined when it cannot be read (gone, not Linux).
 */
export const startTimeOf = (pid: number): string | undefined => procStat(pid)?.fields[19]

/** Whether `pid` is still the process that started at `started`, and not a zombie. */
export function isLive(pid: number, started: string | undefined): boolean {
  if (started === undefined) {
    // No /proc (not Linux): whether any process has the pid is all there is to go on.
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  const stat = procStat(pid)
  return stat !== undefined && stat.fields[0] !== 'Z' && stat.fields[19] === started
}

type Cleanup = { name: string; run: () => Promise<void> | void }
const cleanups: Cleanup[] = []
let cleaning: Promise<void> | undefined

/**
 * Registers something to undo; returns a function that undoes it now (and unregisters it). With
 * `leftover`, the reaper undoes it if this process is killed first.
 */
export function onCleanup(
  name: string,
  run: () => Promise<void> | void,
  leftover?: Leftover,
): () => Promise<void> {
  const forget = leftover ? reapIfKilled(leftover) : undefined
  const entry: Cleanup = {
    name,
    run: async () => {
      await run()
      forget?.() // not when it failed: the reaper tries again once this process has ended
    },
  }
  cleanups.push(entry)
  return async () => {
    const i = cleanups.indexOf(entry)
    if (i >= 0) cleanups.splice(i, 1)
    await entry.run()
  }
}

/** Undoes everything still registered, newest first; safe to call more than once. */
export function cleanupAll(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length > 0) {
      const entry = cleanups.pop() as Cleanup
      try {
        await entry.run()
      } catch (error) {
        process.stderr.write(`bench: cleanup "${entry.name}" failed: ${String(error)}\n`)
      }
    }
  })()
  return cleaning
}

/** The signals that stop a bench run, with the exit code a shell reports for each (128 + its number). */
export const STOP_SIGNALS = { SIGINT: 130, SIGTERM: 143, SIGHUP: 129 } as const
export type StopSignal = keyof typeof STOP_SIGNALS

/**
 * Calls `handler` on Ctrl-C, SIGTERM or a hang-up: a terminal closed during a long seed must not
 * leave a database behind either. After a hang-up the terminal is gone and writes to it fail:
 * register onOutputClosed too, whose listeners keep a failed write from ending the cleanup.
 */
export function onStopSignal(handler: (signal: StopSignal) => void): void {
  for (const signal of Object.keys(STOP_SIGNALS) as StopSignal[]) process.on(signal, () => handler(signal))
}

/** The exit code of a run whose output was closed: a shell's for a process ended by SIGPIPE (128 + 13). */
export const OUTPUT_CLOSED_EXIT = 141

/**
 * Calls `handler` when stdout or stderr can no longer be written: `npm run bench | head` once
 * head has exited (EPIPE). Node ignores SIGPIPE, so the failed write would otherwise be an
 * uncaught error ending the run with its servers, directory and schema left behind. The listener
 * stays, so later failed writes (the handler's own message included) are ignored too.
 */
export function onOutputClosed(handler: () => void): void {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => handler())
}

/** A run's time as it appears in result file names: 2026-12-05T12-26-18-087Z. */
export const fileStamp = (date: Date) => date.toISOString().replace(/[:.]/g, '-')

/** A port that was free a moment ago (the service takes PORT from the environment). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

export interface Started {
  child: ChildProcess
  pid: number
  url: string
  logFile: string
  stop(): Promise<void>
}

/**
 * Starts `node <args>` with stdout/stderr appended to `logFile`, waits until
 * GET <url>/health answers, and registers its stop. Stopping sends SIGTERM
 * (the service drains and exits 0), then SIGKILL after 15 s.
 */
export async function startNode(opts: {
  name: string
  args: string[]
  env: Record<string, string>
  port: number
  logFile: string
  cwd: string
  healthPath: string
}): Promise<Started> {
  const fd = openSync(opts.logFile, 'a')
  const child = spawn(NODE, opts.args, { cwd: opts.cwd, env: opts.env, stdio: ['ignore', fd, fd] })
  closeSync(fd)
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve()
    else child.once('exit', () => resolve())
  })
  const leftover: Leftover | undefined =
    child.pid === undefined
      ? undefined
      : { kind: 'process', name: opts.name, pid: child.pid, started: startTimeOf(child.pid), graceMs: 15_000 }
  const stop = onCleanup(
    `stop ${opts.name}`,
    async () => {
      if (child.exitCode !== null || child.signalCode !== null) return
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000)
      await exited
      clearTimeout(timer)
    },
    leftover,
  )
  const url = `http://127.0.0.1:${opts.port}`
  const deadline = Date.now() + 60_000
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop()
      throw new Error(`${opts.name} exited during start (code ${child.exitCode}):\n${tail(opts.logFile)}`)
    }
    try {
      const res = await fetch(`${url}${opts.healthPath}`)
      if (res.ok) break
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      await stop()
      throw new Error(`${opts.name} did not answer ${opts.healthPath} within 60 s:\n${tail(opts.logFile)}`)
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  return { child, pid: child.pid as number, url, logFile: opts.logFile, stop }
}

export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n')
  } catch {
    return '(no log)'
  }
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number | undefined {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

/** Polls a process's resident set every 100 ms; `stop()` gives the peak seen (MB). */
export function sampleRss(pid: number): { stop(): number | undefined } {
  let peakKb = statusKb(pid, 'VmRSS') ?? 0
  const timer = setInterval(() => {
    const kb = statusKb(pid, 'VmRSS')
    if (kb !== undefined && kb > peakKb) peakKb = kb
  }, 100)
  return {
    stop() {
      clearInterval(timer)
      return peakKb > 0 ? Math.round(peakKb / 1024) : undefined
    },
  }
}

/** Peak resident set since the process started (MB), from the kernel's high-water mark. */
export function highWaterRss(pid: number): number | undefined {
  const kb = statusKb(pid, 'VmHWM')
  return kb === undefined ? undefined : Math.round(kb / 1024)
}

/** Clock ticks per second of /proc's CPU times: 100 on every Linux Node supports (USER_HZ). */
const TICKS_PER_SECOND = 100

/**
 * A process's /proc/<pid>/stat: its name and the fields after it (`fields[0]` is field 3, the
 * state). Undefined when it cannot be read (gone, not Linux).
 */
function procStat(pid: number | string): { name: string; fields: string[] } | undefined {
  let stat: string
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return undefined
  }
  // The name (field 2, in parentheses) may hold spaces and parentheses: fields count from its last ')'.
  const end = stat.lastIndexOf(')')
  return { name: stat.slice(stat.indexOf('(') + 1, end), fields: stat.slice(end + 2).split(' ') }
}

/**
 * A process's name and CPU times from /proc/<pid>/stat, in seconds: its own (user + system,
 * every thread) and its ended children's. Undefined when it cannot be read (gone, not Linux).
 */
function procCpu(pid: number | string): { name: string; own: number; children: number } | undefined {
  const stat = procStat(pid)
  if (!stat) return undefined
  const at = (i: number) => Number(stat.fields[i]) / TICKS_PER_SECOND
  return {
    name: stat.name,
    own: at(11) + at(12), // utime, stime
    children: at(13) + at(14), // cutime, cstime
  }
}

/** CPU seconds (user + system, every thread) a process has used. */
export function cpuSeconds(pid: number): number | undefined {
  return procCpu(pid)?.own
}

/**
 * CPU seconds used by the local PostgreSQL servers: every process named `postgres`
 * (the server and its backends, WAL writer, checkpointer…), each with the CPU of its
 * children that have ended. A backend that exits keeps counting: its time moves to the
 * server's count of ended children, so the sum only grows. Every cluster on the machine
 * and every session's work counts, the bench's own or not. Undefined when none is
 * visible (a remote server, or not Linux).
 */
export function postgresCpuSeconds(): number | undefined {
  let entries: string[]
  try {
    entries = readdirSync('/proc')
  } catch {
    return undefined
  }
  let total: number | undefined
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue
    const cpu = procCpu(entry) // undefined: the process ended between the listing and the read
    if (cpu?.name === 'postgres') total = (total ?? 0) + cpu.own + cpu.children
  }
  return total
}

/**
 * package.json's `start` script ("NAME=value … node <flags> src/start.js") split into its
 * environment assignments, node flags and entry file, so the service runs as `npm start` runs it.
 */
export function npmStart(): { env: Record<string, string>; flags: string[]; entry: string } {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts?: { start?: string } }
  const words = (pkg.scripts?.start ?? '').split(/\s+/).filter(Boolean)
  const env: Record<string, string> = {}
  let i = 0
  for (; i < words.length; i++) {
    const assignment = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(words[i] as string)
    if (!assignment) break
    env[assignment[1] as string] = assignment[2] as string
  }
  const args = words.slice(i + 1)
  const entry = args.find((word) => !word.startsWith('--'))
  if (entry === undefined)
    throw new Error(`package.json's start script names no entry file: ${pkg.scripts?.start}`)
  return { env, flags: args.filter((word) => word.startsWith('--')), entry }
}

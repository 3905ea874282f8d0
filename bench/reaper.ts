// A bench run's reaper. The run undoes what it started on exit, on errors, on Ctrl-C, SIGTERM and
// SIGHUP, and when its output closes; killed outright (SIGKILL, the OOM killer) it runs no code
// at all, and its servers would go on running with their directory or schema in place. So the run
// starts this process, detached in a session of its own, and tells it over a pipe what it has
// started and what it has undone (bench/processes.ts, `reapIfKilled`). The pipe closes when the
// run ends, however it ends: whatever the run still had started is undone here, newest first, and
// this exits. After a clean end nothing is left registered and it exits at once, saying nothing.
// No library does this (a process outliving its parent to clean up after it); it loads only pg.
import { existsSync, rmSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { isLive, type Leftover, type ReaperMessage } from './processes.ts'
import { dropBenchSchema } from './schema.ts'

const say = (line: string) => {
  // The run's stderr may be gone (a closed terminal): the cleanup goes on regardless.
  process.stderr.write(`bench (reaper): ${line}\n`, () => {})
}
process.stderr.on('error', () => {})

const registered = new Map<number, Leftover>()
const lines = createInterface({ input: process.stdin })
lines.on('line', (line) => {
  let message: ReaperMessage
  try {
    message = JSON.parse(line) as ReaperMessage
  } catch {
    return // not from the run (nothing else writes here)
  }
  if ('done' in message) registered.delete(message.done)
  else registered.set(message.add, message.leftover)
})
lines.on('close', () => void reap())

async function reap(): Promise<void> {
  const left = [...registered.values()].reverse()
  if (left.length > 0) say('the run ended without undoing what it started (killed?); undoing it')
  for (const leftover of left) {
    try {
      const what = await undo(leftover)
      if (what) say(what)
    } catch (error) {
      say(`could not undo ${leftover.name}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  process.exit(0)
}

/** Undoes one thing; answers what it did, or nothing when it was already gone. */
async function undo(leftover: Leftover): Promise<string | undefined> {
  switch (leftover.kind) {
    case 'process':
      return (await stop(leftover.pid, leftover.started, leftover.graceMs))
        ? `stopped ${leftover.name} (pid ${leftover.pid})`
        : undefined
    case 'dir':
      if (!existsSync(leftover.path)) return undefined
      rmSync(leftover.path, { recursive: true, force: true })
      return `removed ${leftover.path}`
    case 'schema':
      return (await dropBenchSchema(leftover.baseUrl, leftover.schema))
        ? `dropped schema ${leftover.schema}`
        : undefined
  }
}

/**
 * SIGTERM (the service and the run both stop cleanly on it), then SIGKILL after `graceMs`. Only
 * the process that was registered: a pid the system has since given to another process is left.
 * Answers once it is gone (false: it was gone already), so what it used can be removed after it.
 */
async function stop(pid: number, started: string | undefined, graceMs: number): Promise<boolean> {
  if (!signal(pid, started, 'SIGTERM')) return false
  const deadline = Date.now() + graceMs
  let killed = false
  while (isLive(pid, started)) {
    if (!killed && Date.now() > deadline) killed = signal(pid, started, 'SIGKILL')
    else if (Date.now() > deadline + 5_000) throw new Error(`pid ${pid} is still there after SIGKILL`)
    await new Promise((r) => setTimeout(r, 100))
  }
  return true
}

/** Sends `name` to the registered process; false when it is gone (it may end between check and kill). */
function signal(pid: number, started: string | undefined, name: NodeJS.Signals): boolean {
  if (!isLive(pid, started)) return false
  try {
    process.kill(pid, name)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw error
  }
}

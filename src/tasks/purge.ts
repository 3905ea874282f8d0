// Background job: deletes for good the tasks soft-deleted longer ago than the
// retention period, and idempotency records past their window. Idempotent, so
// several instances running it at once each delete a due row at most once.
import type { FastifyBaseLogger } from 'fastify'
import type { Database } from '../db/database.ts'
import { purgeExpiredIdempotencyKeys } from '../idempotency/repository.ts'
import type { Clock } from '../time.ts'
import { purgeTasksDeletedBefore } from './repository.ts'

const BATCH = 500

export interface PurgeJob {
  runOnce(): Promise<{ tasks: number; idempotencyKeys: number }>
  stop(): Promise<void>
}

export function startPurgeJob(deps: {
  database: Database
  clock: Clock
  retentionDays: number
  intervalSeconds: number
  log: FastifyBaseLogger
}): PurgeJob {
  let running: Promise<unknown> | undefined
  let stopped = false

  async function runOnce() {
    const now = deps.clock()
    const cutoff = new Date(now.getTime() - deps.retentionDays * 86_400_000).toISOString()
    let tasks = 0
    for (;;) {
      if (stopped) break
      const n = await purgeTasksDeletedBefore(deps.database.db, cutoff, BATCH)
      tasks += n
      if (n < BATCH) break
    }
    const idempotencyKeys = await purgeExpiredIdempotencyKeys(deps.database.db, now.toISOString())
    if (tasks > 0 || idempotencyKeys > 0)
      deps.log.info({ job: 'purge', tasks, idempotencyKeys }, 'purged expired rows')
    return { tasks, idempotencyKeys }
  }

  const tick = () => {
    if (stopped || running) return
    running = runOnce()
      .catch((err) => deps.log.warn({ err, job: 'purge' }, 'purge failed; will retry next interval'))
      .finally(() => {
        running = undefined
      })
  }
  const timer = setInterval(tick, deps.intervalSeconds * 1000)
  timer.unref()
  const first = setTimeout(tick, 1000)
  first.unref()

  return {
    runOnce,
    async stop() {
      stopped = true
      clearInterval(timer)
      clearTimeout(first)
      await running
    },
  }
}

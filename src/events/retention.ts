// Background job: deletes events past the retention window (EVENT_RETENTION_HOURS) that no
// pending delivery still needs. Idempotent, so instances running it together do no harm.
import type { FastifyBaseLogger } from 'fastify'
import type { Database } from '../db/database.ts'
import type { Clock } from '../time.ts'
import { purgeEventsBefore } from './repository.ts'

const BATCH = 500

export interface RetentionJob {
  runOnce(): Promise<number>
  stop(): Promise<void>
}

export function startEventRetention(deps: {
  database: Database
  clock: Clock
  retentionHours: number
  intervalSeconds: number
  log: FastifyBaseLogger
}): RetentionJob {
  let running: Promise<unknown> | undefined
  let stopped = false

  async function runOnce(): Promise<number> {
    const cutoff = new Date(deps.clock().getTime() - deps.retentionHours * 3_600_000).toISOString()
    let total = 0
    while (!stopped) {
      const n = await purgeEventsBefore(deps.database.db, cutoff, BATCH)
      total += n
      if (n < BATCH) break
    }
    if (total > 0) deps.log.info({ job: 'event-retention', events: total }, 'purged expired events')
    return total
  }

  const tick = () => {
    if (stopped || running) return
    running = runOnce()
      .catch((err) => deps.log.warn({ err, job: 'event-retention' }, 'event purge failed; will retry'))
      .finally(() => {
        running = undefined
      })
  }
  const timer = setInterval(tick, deps.intervalSeconds * 1000)
  timer.unref()

  return {
    runOnce,
    async stop() {
      stopped = true
      clearInterval(timer)
      await running
    },
  }
}

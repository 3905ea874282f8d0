// The webhook dispatcher, one per instance: claims due deliveries with a lease, attempts each
// (signed, SSRF-checked again, bounded in time), records the outcome and schedules retries.
// At-least-once: a crash between the receiver's 2xx and the recorded outcome means one more
// attempt after the lease expires, with the same webhook-id so receivers can deduplicate.
import { randomUUID } from 'node:crypto'
import type { FastifyBaseLogger } from 'fastify'
import { type Database, runInTransaction } from '../db/database.ts'
import type { EventSignal } from '../events/signal.ts'
import { OutageLog } from '../outage-log.ts'
import type { Clock } from '../time.ts'
import type { DeliveryJob } from './model.ts'
import {
  claimDueDeliveries,
  countEndpointFailure,
  disableEndpoint,
  loadDeliveryJob,
  recordAttempt,
  releaseLease,
  resetEndpointFailures,
} from './queue-repository.ts'
import { retryAfterMs, withJitter } from './retry.ts'
import { type AttemptResult, sendWebhook } from './sender.ts'
import { signDelivery } from './signature.ts'
import { checkTarget, TargetRefused } from './ssrf.ts'

/** How long `stop` waits for attempts in flight before interrupting them, unless `drain` said otherwise. */
const SHUTDOWN_GRACE_MS = 3000

export interface DispatcherSettings {
  /** Milliseconds between attempts: attempt n+1 waits schedule[n-1]; after the last, failed. */
  schedule: number[]
  timeoutMs: number
  leaseSeconds: number
  concurrency: number
  pollIntervalMs: number
  disableAfterFailures: number
  allowPrivate: boolean
}

export interface Dispatcher {
  /**
   * Shutdown has begun: claims nothing more, and interrupts the attempts in flight that have not
   * finished within `graceMs` (their deliveries are given back, due at once, uncounted).
   */
  drain(graceMs: number): void
  /** Resolves once the loop has stopped and every attempt in flight has finished or been interrupted. */
  stop(): Promise<void>
}

export function startDispatcher(deps: {
  database: Database
  clock: Clock
  signal: EventSignal
  settings: DispatcherSettings
  log: FastifyBaseLogger
}): Dispatcher {
  const { database, clock, settings, log } = deps
  const instanceId = randomUUID()
  // The lease must outlive an attempt, or a slow receiver would see a second, concurrent attempt.
  const leaseMs = Math.max(settings.leaseSeconds * 1000, settings.timeoutMs + 2000)
  const inFlight = new Set<Promise<void>>()
  const shutdown = new AbortController()
  let stopped = false
  let wakeUp: (() => void) | undefined
  let woken = false
  const wake = () => {
    woken = true
    wakeUp?.()
  }
  const unsubscribe = deps.signal.onWake(wake)
  // Claims fail on every poll while the database is down: one warning per outage, not per poll.
  const claimOutage = new OutageLog(log, {
    down: 'claiming webhook deliveries failed; retrying on each poll',
    back: 'claiming webhook deliveries works again',
  })

  const sleep = () =>
    new Promise<void>((resolve) => {
      if (woken || stopped) return resolve()
      const timer = setTimeout(done, settings.pollIntervalMs)
      function done() {
        clearTimeout(timer)
        wakeUp = undefined
        resolve()
      }
      wakeUp = done
    })

  async function attempt(job: DeliveryJob): Promise<void> {
    const attempts = job.attempts + 1
    const started = clock()
    const timestamp = Math.floor(started.getTime() / 1000)
    let result: AttemptResult
    try {
      // Checked again at delivery: DNS may now point somewhere it did not at creation.
      const target = await checkTarget(job.url, settings.allowPrivate)
      result = await sendWebhook(
        target,
        {
          'webhook-id': job.id,
          'webhook-timestamp': String(timestamp),
          'webhook-signature': signDelivery(job.secret, job.id, timestamp, job.payload),
        },
        job.payload,
        settings.timeoutMs,
        shutdown.signal,
      )
    } catch (error) {
      result = {
        kind: 'error',
        error: error instanceof TargetRefused ? `target refused: ${error.message}` : 'could not send',
      }
    }
    // Interrupted by shutdown: not the receiver's fault, so no attempt is counted; the delivery
    // is due again at once for whichever instance is still running (or this one after restart).
    if (result.kind === 'aborted') await releaseLease(database.db, job.id, instanceId)
    else await recordOutcome(job, attempts, result)
  }

  /**
   * Records an attempt's outcome and what it means for the endpoint (its failure count, or
   * disabling it) in one transaction, and only while the lease is still ours: a reader never
   * sees a delivery failed with its endpoint's count not yet raised, and an instance whose
   * lease was taken over counts nothing (the instance that took it counts its own attempt).
   */
  async function recordOutcome(
    job: DeliveryJob,
    attempts: number,
    result: Exclude<AttemptResult, { kind: 'aborted' }>,
  ): Promise<void> {
    const now = clock()
    const nowIso = now.toISOString()
    const status = result.kind === 'response' ? result.status : null
    const error = result.kind === 'error' ? result.error : null
    if (status !== null && status >= 200 && status < 300) {
      await runInTransaction(database, async (trx) => {
        const recorded = await recordAttempt(trx, {
          id: job.id,
          instanceId,
          status: 'succeeded',
          attempts,
          nextAttemptAt: null,
          responseStatus: status,
          error: null,
          now: nowIso,
        })
        if (recorded && job.endpointFailures > 0) await resetEndpointFailures(trx, job.webhookId)
      })
      return
    }
    let retryIn: number | undefined
    if (status !== 410 && attempts <= settings.schedule.length) {
      const honoured =
        status === 429 || (status !== null && status >= 500)
          ? retryAfterMs(result.kind === 'response' ? result.retryAfter : undefined, now.getTime())
          : undefined
      retryIn = honoured ?? withJitter(settings.schedule[attempts - 1]!)
    }
    const failedForGood = retryIn === undefined
    const disabled = await runInTransaction(database, async (trx) => {
      const recorded = await recordAttempt(trx, {
        id: job.id,
        instanceId,
        status: failedForGood ? 'failed' : 'pending',
        attempts,
        nextAttemptAt: failedForGood ? null : new Date(now.getTime() + retryIn!).toISOString(),
        responseStatus: status,
        error:
          error ??
          (status !== null && status >= 300 && status < 400 ? `redirect (${status}) not followed` : null),
        now: nowIso,
      })
      if (!recorded) return false
      if (status === 410) {
        await disableEndpoint(trx, job.webhookId, 'the endpoint answered 410 Gone', nowIso)
        return false
      }
      return countEndpointFailure(trx, job.webhookId, settings.disableAfterFailures, nowIso)
    })
    if (disabled) log.warn({ webhookId: job.webhookId }, 'webhook endpoint disabled after repeated failures')
  }

  function track(job: DeliveryJob): void {
    const p: Promise<void> = attempt(job)
      .catch((err) => log.warn({ err, deliveryId: job.id }, 'webhook attempt could not be recorded'))
      .finally(() => {
        inFlight.delete(p)
        wake() // a slot is free
      })
    inFlight.add(p)
  }

  async function loop(): Promise<void> {
    while (!stopped) {
      woken = false
      const free = settings.concurrency - inFlight.size
      let claimed = 0
      if (free > 0) {
        try {
          const now = clock()
          const ids = await claimDueDeliveries(database.db, database.engine, {
            instanceId,
            now: now.toISOString(),
            leaseUntil: new Date(now.getTime() + leaseMs).toISOString(),
            limit: free,
          })
          claimOutage.ok()
          claimed = ids.length
          for (const id of ids) {
            // Shutdown began while claiming: what was claimed goes back, due at once, unattempted.
            if (stopped) {
              await releaseLease(database.db, id, instanceId)
              continue
            }
            const job = await loadDeliveryJob(database.db, id)
            if (job) track(job)
          }
        } catch (err) {
          if (!stopped) claimOutage.failed(err)
        }
      }
      // A full claim means more may be due: go again at once; otherwise wait for a wake-up or the poll.
      if (claimed === 0 || claimed < free) await sleep()
    }
  }

  const running = loop()
  let interruptAt: NodeJS.Timeout | undefined
  const drain = (graceMs: number) => {
    if (stopped) return
    stopped = true
    unsubscribe()
    wakeUp?.()
    // Attempts in flight may finish (the current job), but not past the grace: a receiver
    // that never answers must not hold up the process's exit.
    interruptAt = setTimeout(() => shutdown.abort(), graceMs)
    interruptAt.unref()
  }
  return {
    drain,
    async stop() {
      drain(SHUTDOWN_GRACE_MS)
      await running
      await Promise.allSettled([...inFlight])
      clearTimeout(interruptAt)
    },
  }
}

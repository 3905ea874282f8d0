// Webhook endpoint rules: URL checks (SSRF guard), ownership through the policy module,
// secrets, deliveries and manual redelivery. Knows no HTTP.
import type { Principal } from '../auth/scopes.ts'
import type { Database } from '../db/database.ts'
import { ApiError, notFound, validationFailed } from '../errors.ts'
import type { EventSignal } from '../events/signal.ts'
import { uuidv7 } from '../ids.ts'
import type { Clock } from '../time.ts'
import type { Delivery, Webhook } from './model.ts'
import { canManageWebhook, webhookOwnerFilter } from './policy.ts'
import {
  countWebhooksOf,
  deleteWebhook,
  findDelivery,
  findWebhook,
  insertWebhook,
  listDeliveries,
  listWebhooks,
  requeueDelivery,
  updateWebhook,
  type WebhookChange,
} from './repository.ts'
import { newWebhookSecret } from './signature.ts'
import { checkTarget, TargetRefused, TargetUnresolvable } from './ssrf.ts'

/** Every change writes one delivery row per subscribed webhook, so an owner's count is capped. */
export const MAX_WEBHOOKS_PER_OWNER = 25

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface WebhookInput {
  url?: string
  events?: string[]
  description?: string
  enabled?: boolean
}

export class WebhookService {
  readonly #database: Database
  readonly #clock: Clock
  readonly #allowPrivate: boolean
  readonly #signal: EventSignal

  constructor(deps: {
    database: Database
    clock: Clock
    allowPrivate: boolean
    signal: EventSignal
  }) {
    this.#database = deps.database
    this.#clock = deps.clock
    this.#allowPrivate = deps.allowPrivate
    this.#signal = deps.signal
  }

  async create(principal: Principal, input: Required<Pick<WebhookInput, 'url' | 'events'>> & WebhookInput) {
    await this.#checkUrl(input.url)
    if ((await countWebhooksOf(this.#database.db, principal.userId)) >= MAX_WEBHOOKS_PER_OWNER)
      throw new ApiError(
        'CONFLICT',
        `An account may have at most ${MAX_WEBHOOKS_PER_OWNER} webhooks; delete one first`,
      )
    const now = this.#clock().toISOString()
    const webhook: Webhook = {
      id: uuidv7(),
      ownerId: principal.userId,
      url: input.url,
      description: input.description ?? '',
      events: [...new Set(input.events)],
      secret: newWebhookSecret(),
      enabled: true,
      disabledReason: null,
      consecutiveFailures: 0,
      createdAt: now,
      updatedAt: now,
    }
    await insertWebhook(this.#database.db, webhook)
    return webhook
  }

  list(principal: Principal): Promise<Webhook[]> {
    return listWebhooks(this.#database.db, webhookOwnerFilter(principal))
  }

  async get(principal: Principal, id: string): Promise<Webhook> {
    const webhook = UUID.test(id) ? await findWebhook(this.#database.db, id.toLowerCase()) : undefined
    if (!webhook || !canManageWebhook(principal, webhook)) throw notFound('Webhook')
    return webhook
  }

  async update(principal: Principal, id: string, input: WebhookInput): Promise<Webhook> {
    const webhook = await this.get(principal, id)
    if (input.url !== undefined) await this.#checkUrl(input.url)
    const change: WebhookChange = { updatedAt: this.#clock().toISOString() }
    if (input.url !== undefined) change.url = input.url
    if (input.description !== undefined) change.description = input.description
    if (input.events !== undefined) change.events = [...new Set(input.events)]
    if (input.enabled !== undefined) {
      change.enabled = input.enabled
      // Re-enabling starts the failure count afresh; pending deliveries resume where they were.
      if (input.enabled) {
        change.disabledReason = null
        change.consecutiveFailures = 0
      } else change.disabledReason = 'disabled by its owner'
    }
    await updateWebhook(this.#database.db, webhook.id, change)
    if (input.enabled) this.#signal.wake()
    return this.get(principal, webhook.id)
  }

  async remove(principal: Principal, id: string): Promise<void> {
    const webhook = await this.get(principal, id)
    await deleteWebhook(this.#database.db, webhook.id)
  }

  async deliveries(
    principal: Principal,
    id: string,
    page: { limit: number; cursor?: string },
  ): Promise<{ items: Delivery[]; nextCursor: string | null }> {
    const webhook = await this.get(principal, id)
    if (page.cursor !== undefined && !UUID.test(page.cursor))
      throw validationFailed([{ field: 'cursor', message: 'is not a cursor from this endpoint' }])
    const items = await listDeliveries(this.#database.db, webhook.id, {
      limit: page.limit + 1,
      ...(page.cursor ? { before: page.cursor.toLowerCase() } : {}),
    })
    const more = items.length > page.limit
    const shown = items.slice(0, page.limit)
    return { items: shown, nextCursor: more ? (shown.at(-1)?.id ?? null) : null }
  }

  /** Sends one delivery again, with the same webhook-id (so a receiver that has it can dedupe). */
  async redeliver(principal: Principal, id: string, deliveryId: string): Promise<Delivery> {
    const webhook = await this.get(principal, id)
    const delivery = UUID.test(deliveryId)
      ? await findDelivery(this.#database.db, webhook.id, deliveryId.toLowerCase())
      : undefined
    if (!delivery) throw notFound('Delivery')
    if (!webhook.enabled)
      throw new ApiError('CONFLICT', 'The webhook is disabled; enable it (PATCH enabled: true) first')
    const now = this.#clock()
    const requeued = await requeueDelivery(this.#database.db, delivery.id, now.toISOString())
    if (!requeued.requeued) {
      // The lease outlives the attempt (an instance that died mid-attempt holds it to its end).
      const seconds = Math.max(1, Math.ceil((Date.parse(requeued.leasedUntil) - now.getTime()) / 1000))
      throw new ApiError(
        'CONFLICT',
        'An instance holds this delivery for an attempt; redeliver it once that attempt ends',
        { headers: { 'retry-after': String(seconds) } },
      )
    }
    this.#signal.wake()
    const updated = await findDelivery(this.#database.db, webhook.id, delivery.id)
    if (!updated) throw notFound('Delivery')
    return updated
  }

  async #checkUrl(url: string): Promise<void> {
    try {
      await checkTarget(url, this.#allowPrivate)
    } catch (error) {
      // A name that does not resolve yet (DNS not set up, or no resolver reachable) cannot be
      // proven private; like GitHub and Stripe we accept it, and every delivery re-checks the
      // resolved addresses anyway, so it can never reach a private target.
      if (error instanceof TargetUnresolvable) return
      if (error instanceof TargetRefused) throw validationFailed([{ field: 'url', message: error.message }])
      throw error
    }
  }
}

// Webhook endpoints and deliveries as the domain sees them.

export const EVENT_TYPES = ['task.created', 'task.updated', 'task.deleted', 'task.restored'] as const

export interface Webhook {
  id: string
  ownerId: string
  url: string
  description: string
  events: string[]
  /** `whsec_` + base64 key; returned once at creation, used to sign every delivery. */
  secret: string
  enabled: boolean
  disabledReason: string | null
  consecutiveFailures: number
  createdAt: string
  updatedAt: string
}

export interface Delivery {
  id: string
  webhookId: string
  eventId: string
  eventType: string
  status: 'pending' | 'succeeded' | 'failed'
  attempts: number
  nextAttemptAt: string | null
  lastAttemptAt: string | null
  lastResponseStatus: number | null
  lastError: string | null
  createdAt: string
}

/** A claimed delivery with what an attempt needs. */
export interface DeliveryJob {
  id: string
  attempts: number
  webhookId: string
  url: string
  secret: string
  payload: string
  /** The endpoint's failure count when claimed (a success resets it only when non-zero). */
  endpointFailures: number
}

/** The public representation: everything but the secret. */
export function publicWebhook(w: Webhook): Omit<Webhook, 'secret'> {
  const { secret: _secret, ...rest } = w
  return rest
}

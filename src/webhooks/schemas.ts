// Route schemas for webhooks: validation, serialization and the OpenAPI document in one.
import { Type } from '@sinclair/typebox'
import { Nullable, StringEnum } from '../http/schemas.ts'
import { EVENT_TYPES } from './model.ts'

const EventTypes = Type.Array(StringEnum(EVENT_TYPES), {
  minItems: 1,
  maxItems: 10,
  description: 'Event types to receive: task.created, task.updated, task.deleted, task.restored',
})
const Url = Type.String({
  minLength: 1,
  maxLength: 2048,
  description:
    'http(s) URL. Hosts resolving to loopback, private, link-local, unique-local, CGNAT or metadata addresses are refused (422) unless the deployment sets WEBHOOK_ALLOW_PRIVATE=true; checked again at every delivery. Redirects are never followed.',
})
const Description = Type.String({
  maxLength: 500,
  // As a task's description: PostgreSQL text cannot hold NUL, so no engine takes it.
  pattern: '^[^\\u0000]*$',
  'x-error': 'must not contain NUL characters',
  description: 'At most 500 characters; no NUL',
})

export const WebhookSchema = Type.Object(
  {
    id: Type.String({ format: 'uuid' }),
    url: Type.String(),
    events: Type.Array(Type.String()),
    description: Type.String(),
    enabled: Type.Boolean({
      description: 'False when disabled by its owner, by a 410 answer, or after repeated failures',
    }),
    disabledReason: Nullable(Type.String({ description: 'Why the endpoint is disabled' })),
    consecutiveFailures: Type.Integer({ description: 'Failed attempts since the last success' }),
    ownerId: Type.String({ format: 'uuid' }),
    createdAt: Type.String({ format: 'date-time' }),
    updatedAt: Type.String({ format: 'date-time' }),
  },
  { title: 'Webhook' },
)

export const CreatedWebhookSchema = Type.Composite([
  WebhookSchema,
  Type.Object({
    secret: Type.String({
      description:
        'whsec_ + base64 key for verifying signatures (Standard Webhooks). Shown only in this response.',
    }),
  }),
])

export const CreateWebhookBody = Type.Object(
  { url: Url, events: EventTypes, description: Type.Optional(Description) },
  { additionalProperties: false },
)

export const PatchWebhookBody = Type.Object(
  {
    url: Type.Optional(Url),
    events: Type.Optional(EventTypes),
    description: Type.Optional(Description),
    enabled: Type.Optional(
      Type.Boolean({
        description:
          'true re-enables (and resets the failure count); false pauses. Events that happen while an endpoint is disabled are not delivered to it (replay them from GET /v1/events with Last-Event-ID); its pending deliveries resume when it is enabled again.',
      }),
    ),
  },
  { additionalProperties: false },
)

// Any id is taken here (the router bounds its length): one that is not a webhook's or a
// delivery's is 404, malformed or not (API.md §1).
export const WebhookIdParams = Type.Object({ id: Type.String() })
export const DeliveryParams = Type.Object({
  id: Type.String(),
  deliveryId: Type.String(),
})

export const DeliveriesQuery = Type.Object(
  {
    limit: Type.Integer({ minimum: 1, default: 20, description: 'Values above 100 are capped to 100' }),
    cursor: Type.Optional(
      Type.String({ maxLength: 100, description: 'page.nextCursor of the previous page' }),
    ),
  },
  { additionalProperties: false },
)

export const DeliverySchema = Type.Object(
  {
    id: Type.String({ description: 'Also the webhook-id header: the same on every attempt' }),
    eventId: Type.String({ description: 'The event id (as in the SSE stream)' }),
    eventType: Type.String(),
    status: StringEnum(['pending', 'succeeded', 'failed'] as const),
    attempts: Type.Integer(),
    lastResponseStatus: Nullable(Type.Integer()),
    lastError: Nullable(Type.String()),
    lastAttemptAt: Nullable(Type.String({ format: 'date-time' })),
    nextAttemptAt: Nullable(Type.String({ format: 'date-time', description: 'Null unless pending' })),
    createdAt: Type.String({ format: 'date-time' }),
  },
  { title: 'WebhookDelivery' },
)

export const WebhookListSchema = Type.Object({ items: Type.Array(WebhookSchema) })
export const DeliveryListSchema = Type.Object({
  items: Type.Array(DeliverySchema),
  page: Type.Object({ limit: Type.Integer(), nextCursor: Nullable(Type.String()) }),
})

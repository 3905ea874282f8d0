// HTTP for webhooks (API.md §4): parse, pick status codes and headers, call the service.
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { refuseConditionsWithoutEtag } from '../conditional.ts'
import { errorResponses, NoContent } from '../http/schemas.ts'
import { publicWebhook } from './model.ts'
import {
  CreatedWebhookSchema,
  CreateWebhookBody,
  DeliveriesQuery,
  DeliveryListSchema,
  DeliveryParams,
  DeliverySchema,
  PatchWebhookBody,
  WebhookIdParams,
  WebhookListSchema,
  WebhookSchema,
} from './schemas.ts'
import type { WebhookService } from './service.ts'

const TAG = ['webhooks']
const config = { scope: 'webhooks:manage' as const }

function principalOf(request: FastifyRequest) {
  // enforceAccess guarantees a principal on every non-public route.
  return request.principal!
}

export function webhookRoutes(deps: { webhooks: WebhookService }) {
  const { webhooks } = deps
  return async function register(app: FastifyInstance): Promise<void> {
    // Schemas are inlined, not added with addSchema: a plugin-level addSchema gives the plugin a
    // new schema controller that loses the app's custom (strict) validator compiler.
    const r = app.withTypeProvider<TypeBoxTypeProvider>()

    r.post(
      '/v1/webhooks',
      {
        config,
        schema: {
          tags: TAG,
          summary: 'Create a webhook',
          description:
            'Deliveries are signed per Standard Webhooks (webhook-id, webhook-timestamp, webhook-signature). The `secret` is shown only in this response (`Cache-Control: no-store`). At most 25 webhooks per account (409 beyond).',
          body: CreateWebhookBody,
          response: { 201: CreatedWebhookSchema, ...errorResponses(400, 401, 403, 409, 413, 415, 422) },
        },
      },
      async (request, reply) => {
        const webhook = await webhooks.create(principalOf(request), request.body)
        return reply
          .code(201)
          .header('location', `/v1/webhooks/${webhook.id}`)
          .header('cache-control', 'no-store')
          .send({ ...publicWebhook(webhook), secret: webhook.secret })
      },
    )

    r.get(
      '/v1/webhooks',
      {
        config,
        schema: {
          tags: TAG,
          summary: 'List webhooks',
          description: 'The caller’s webhooks (admins: everyone’s), oldest first. Secrets are never listed.',
          response: { 200: WebhookListSchema, ...errorResponses(401, 403) },
        },
      },
      async (request) => ({ items: (await webhooks.list(principalOf(request))).map(publicWebhook) }),
    )

    r.get(
      '/v1/webhooks/:id',
      {
        config,
        schema: {
          tags: TAG,
          summary: 'Get a webhook',
          params: WebhookIdParams,
          response: { 200: WebhookSchema, ...errorResponses(401, 403, 404) },
        },
      },
      async (request) => publicWebhook(await webhooks.get(principalOf(request), request.params.id)),
    )

    r.patch(
      '/v1/webhooks/:id',
      {
        config,
        schema: {
          tags: TAG,
          summary: 'Change a webhook',
          description:
            'Any subset of url, events, description, enabled. `enabled: true` re-enables a disabled endpoint and resets its failure count; its pending deliveries resume.',
          params: WebhookIdParams,
          body: PatchWebhookBody,
          response: { 200: WebhookSchema, ...errorResponses(400, 401, 403, 404, 412, 413, 415, 422) },
        },
      },
      async (request) => {
        const principal = principalOf(request)
        await refuseConditionsWithoutEtag(request.headers, () => webhooks.get(principal, request.params.id))
        return publicWebhook(await webhooks.update(principal, request.params.id, request.body))
      },
    )

    r.delete(
      '/v1/webhooks/:id',
      {
        config,
        schema: {
          tags: TAG,
          summary: 'Delete a webhook',
          description: 'Deletes the endpoint and its deliveries; nothing more is sent to it.',
          params: WebhookIdParams,
          response: { 204: NoContent, ...errorResponses(400, 401, 403, 404, 412, 415, 422) },
        },
      },
      async (request, reply) => {
        const principal = principalOf(request)
        await refuseConditionsWithoutEtag(request.headers, () => webhooks.get(principal, request.params.id))
        await webhooks.remove(principal, request.params.id)
        return reply.code(204).send(null)
      },
    )

    r.get(
      '/v1/webhooks/:id/deliveries',
      {
        config,
        schema: {
          tags: TAG,
          summary: 'List deliveries of a webhook',
          description: 'Newest first. `page.nextCursor` continues the list.',
          params: WebhookIdParams,
          querystring: DeliveriesQuery,
          response: { 200: DeliveryListSchema, ...errorResponses(401, 403, 404, 422) },
        },
      },
      async (request) => {
        const limit = Math.min(request.query.limit, 100)
        const page = await webhooks.deliveries(principalOf(request), request.params.id, {
          limit,
          ...(request.query.cursor !== undefined ? { cursor: request.query.cursor } : {}),
        })
        return { items: page.items, page: { limit, nextCursor: page.nextCursor } }
      },
    )

    r.post(
      '/v1/webhooks/:id/deliveries/:deliveryId/redeliver',
      {
        config,
        schema: {
          tags: TAG,
          summary: 'Redeliver one delivery',
          description:
            "Makes the delivery pending and due now, whatever its status. The `webhook-id` stays the same, so receivers that processed it can deduplicate. 409 when the webhook is disabled, and 409 with Retry-After (when the lease ends) while an instance holds the delivery for an attempt: one in flight, or one whose instance died mid-attempt, until its lease ends (a second attempt beside it would be a duplicate whose outcome hides the first's).",
          params: DeliveryParams,
          response: { 202: DeliverySchema, ...errorResponses(400, 401, 403, 404, 409, 415, 422) },
        },
      },
      async (request, reply) => {
        const delivery = await webhooks.redeliver(
          principalOf(request),
          request.params.id,
          request.params.deliveryId,
        )
        return reply.code(202).send(delivery)
      },
    )
  }
}

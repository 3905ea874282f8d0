// Standard Webhooks signing: `whsec_` secrets and `v1,<base64 HMAC-SHA256>` signatures of
// "{webhook-id}.{webhook-timestamp}.{body}", keyed with the base64-decoded secret.
import { createHmac, randomBytes } from 'node:crypto'

const PREFIX = 'whsec_'

/** A new secret: 32 random bytes (the spec allows 24–64), base64, with the `whsec_` prefix. */
export function newWebhookSecret(): string {
  return PREFIX + randomBytes(32).toString('base64')
}

export function signDelivery(secret: string, id: string, timestampSeconds: number, body: string): string {
  const key = Buffer.from(secret.slice(PREFIX.length), 'base64')
  return `v1,${createHmac('sha256', key).update(`${id}.${timestampSeconds}.${body}`).digest('base64')}`
}

// Assertions shared by the integration suites.
import assert from 'node:assert/strict'
import type { LightMyRequestResponse } from 'fastify'

/** The shape every error body must have, and nothing a client should never see. */
export function assertErrorBody(res: LightMyRequestResponse, code: string): void {
  assert.match(String(res.headers['content-type']), /^application\/json; charset=utf-8/)
  const body = res.json() as { error: Record<string, unknown> }
  assert.deepEqual(Object.keys(body), ['error'])
  const keys = Object.keys(body.error).sort()
  assert.ok(
    JSON.stringify(keys) === '["code","message","requestId"]' ||
      JSON.stringify(keys) === '["code","details","message","requestId"]',
    `error keys: ${keys}`,
  )
  assert.equal(body.error.code, code)
  assert.equal(typeof body.error.message, 'string')
  assert.equal(body.error.requestId, res.headers['x-request-id'])
  assert.doesNotMatch(
    res.body,
    /\bat .+:\d+:\d+|node_modules|\/work\/|\.ts\b|SELECT |INSERT |sqlite|postgres/i,
  )
}

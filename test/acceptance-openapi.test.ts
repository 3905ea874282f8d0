// Acceptance: the published OpenAPI document is usable by client generators — every operation
// has a unique operationId — and every operation documents its error answers (API.md §6).
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { buildTestApp, type TestApp } from './helpers.ts'

type Operation = {
  operationId?: string
  responses?: Record<string, { headers?: Record<string, unknown> }>
  requestBody?: { content?: Record<string, unknown> }
}

describe('OpenAPI document for clients', () => {
  let t: TestApp
  let operations: [string, Operation][]
  before(async () => {
    t = await buildTestApp({}, {}, 'sqlite')
    const res = await t.app.inject({ method: 'GET', url: '/openapi.json' })
    const doc = res.json() as { paths: Record<string, Record<string, Operation>> }
    operations = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(
        ([method, op]) => [`${method.toUpperCase()} ${path}`, op] as [string, Operation],
      ),
    )
  })
  after(() => t.close())

  it('gives every operation a unique operationId', () => {
    const ids = operations.map(([name, op]) => {
      assert.ok(op.operationId, `${name} has no operationId`)
      return op.operationId
    })
    assert.equal(new Set(ids).size, ids.length)
    const byName = new Map(operations)
    assert.equal(byName.get('GET /v1/tasks/{id}')?.operationId, 'getTasksById')
    assert.equal(byName.get('POST /v1/tasks/{id}/restore')?.operationId, 'postTasksByIdRestore')
  })

  it('documents the response headers API.md promises', () => {
    const byName = new Map(operations)
    const headersOf = (name: string, status: string) =>
      Object.keys(byName.get(name)?.responses?.[status]?.headers ?? {})
    for (const [name, op] of operations)
      for (const status of Object.keys(op.responses ?? {}))
        assert.ok(headersOf(name, status).includes('X-Request-Id'), `${name} ${status} lacks X-Request-Id`)
    assert.ok(headersOf('POST /v1/tasks', '201').includes('Location'))
    assert.ok(headersOf('POST /v1/tasks', '201').includes('ETag'))
    assert.ok(headersOf('GET /v1/tasks', '200').includes('Link'))
    assert.ok(headersOf('GET /v1/tasks/{id}', '304').includes('ETag'))
    assert.ok(headersOf('GET /v1/tasks', '429').includes('Retry-After'))
    assert.ok(headersOf('GET /v1/tasks', '200').includes('RateLimit'))
    assert.ok(headersOf('GET /v1/me', '401').includes('WWW-Authenticate'))
    // What the answers carry, no more: a login's 401 has no Bearer challenge, a 406 no RateLimit
    // fields (it is refused before the limit counts it), and the 409s that say when to retry do.
    assert.ok(!headersOf('POST /v1/auth/login', '401').includes('WWW-Authenticate'))
    assert.ok(headersOf('GET /metrics', '401').includes('WWW-Authenticate'))
    assert.ok(!headersOf('GET /v1/tasks', '406').includes('RateLimit'))
    assert.ok(headersOf('POST /v1/tasks', '409').includes('Retry-After'))
    assert.ok(
      headersOf('POST /v1/webhooks/{id}/deliveries/{deliveryId}/redeliver', '409').includes('Retry-After'),
    )
    assert.ok(byName.get('PATCH /v1/tasks/{id}')?.requestBody?.content?.['application/merge-patch+json'])
  })

  it('documents the error answers of every operation, the JWKS included', () => {
    for (const [name, op] of operations) {
      const statuses = Object.keys(op.responses ?? {})
      assert.ok(statuses.includes('500'), `${name} does not document 500`)
      assert.ok(statuses.includes('406'), `${name} does not document 406`)
    }
  })
})

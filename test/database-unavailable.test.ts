// Database outages are classified by error code (never by message) into 503
// SERVICE_UNAVAILABLE with Retry-After; everything else unexpected stays a 500.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { DatabaseUnavailableError, isDatabaseUnavailable } from '../src/db/errors.ts'
import { classifyError } from '../src/http/error-handler.ts'

const withCode = (code: string) => Object.assign(new Error('anything at all'), { code })

describe('database outage classification', () => {
  for (const code of ['ECONNREFUSED', 'ETIMEDOUT', 'ECONNRESET', '57P01', '57P03', '08006', '08001', '53300'])
    it(`treats ${code} as the database being unavailable`, () => {
      assert.equal(isDatabaseUnavailable(withCode(code)), true)
      const c = classifyError(withCode(code))
      assert.equal(c.status, 503)
      assert.equal(c.code, 'SERVICE_UNAVAILABLE')
      assert.match(c.headers['retry-after'] ?? '', /^[1-9]\d*$/)
      assert.equal(c.unexpected, false)
    })

  it('follows the cause chain (pool checkout timeouts are wrapped by the PostgreSQL engine)', () => {
    const wrapped = new DatabaseUnavailableError(new Error('timeout exceeded when trying to connect'))
    assert.equal(classifyError(wrapped).status, 503)
    assert.equal(isDatabaseUnavailable(new Error('outer', { cause: withCode('ECONNREFUSED') })), true)
  })

  it('never classifies by message: an uncoded error mentioning a connection is a 500', () => {
    const c = classifyError(new Error('Connection terminated unexpectedly: ECONNREFUSED'))
    assert.equal(c.status, 500)
    assert.equal(c.unexpected, true)
    for (const code of ['23505', '42P01', '22P02']) assert.equal(isDatabaseUnavailable(withCode(code)), false)
  })

  it('answers a PostgreSQL statement timeout (57014) with 503, not 500', () => {
    const c = classifyError(withCode('57014'))
    assert.equal(c.status, 503)
    assert.equal(c.code, 'SERVICE_UNAVAILABLE')
  })
})

// timestamptz text from PostgreSQL read as the service's time text (RFC 3339 UTC, milliseconds).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { timestamptzText } from './postgres.ts'

describe('timestamptzText', () => {
  for (const [text, expected] of [
    ['2026-12-04 11:49:54.812+00', '2026-12-04T11:49:54.812Z'],
    ['2026-12-04 11:49:54+00', '2026-12-04T11:49:54.000Z'],
    ['2026-12-04 11:49:54.8+00', '2026-12-04T11:49:54.800Z'],
    ['2026-12-04 11:49:54.81+00', '2026-12-04T11:49:54.810Z'],
    // Microseconds are cut to milliseconds, as a Date cuts them.
    ['2026-12-04 11:49:54.812999+00', '2026-12-04T11:49:54.812Z'],
  ]) {
    it(`reads ${text} as ${expected}`, () => {
      assert.equal(timestamptzText(text as string), expected)
    })
  }

  it('reads a time in another zone through pg (a Date for the same instant)', () => {
    const value = timestamptzText('2026-12-04 12:49:54.812+01')
    assert.ok(value instanceof Date)
    assert.equal(value.toISOString(), '2026-12-04T11:49:54.812Z')
  })
})

// toIso: every database time comes out as RFC 3339 UTC with milliseconds.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { toIso, toIsoOrNull } from './time.ts'

describe('toIso', () => {
  it('keeps text already in canonical form', () => {
    assert.equal(toIso('2026-11-22T10:00:00.000Z'), '2026-11-22T10:00:00.000Z')
  })
  it('normalises other ISO text and Date objects to UTC with milliseconds', () => {
    assert.equal(toIso('2026-11-22T11:00:00+01:00'), '2026-11-22T10:00:00.000Z')
    assert.equal(toIso('2026-11-22T10:00:00Z'), '2026-11-22T10:00:00.000Z')
    assert.equal(toIso('2026-11-22 10:00:00.5Z'), '2026-11-22T10:00:00.500Z')
    assert.equal(toIso(new Date(Date.UTC(2026, 10, 22, 10))), '2026-11-22T10:00:00.000Z')
    assert.equal(toIsoOrNull(null), null)
  })
})

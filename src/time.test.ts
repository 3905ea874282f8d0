// toIso: every database time comes out as RFC 3339 UTC with milliseconds.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { millisecondCeiling, toIso, toIsoOrNull } from './time.ts'

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

describe('millisecondCeiling', () => {
  it('rounds a time finer than a millisecond up to the next one, and leaves others as normalised', () => {
    assert.equal(millisecondCeiling('2031-03-03T03:03:03.0009Z'), '2031-03-03T03:03:03.001Z')
    assert.equal(millisecondCeiling('2031-03-03T04:03:03.0001+01:00'), '2031-03-03T03:03:03.001Z')
    assert.equal(millisecondCeiling('2031-03-03T03:03:03.0000Z'), '2031-03-03T03:03:03.000Z')
    assert.equal(millisecondCeiling('2031-03-03T03:03:03Z'), '2031-03-03T03:03:03.000Z')
    // No time can be stored after the last millisecond of 9999.
    assert.equal(millisecondCeiling('9999-12-31T23:59:59.9995Z'), '9999-12-31T23:59:59.999Z')
    assert.equal(millisecondCeiling('not a time'), undefined)
  })
})

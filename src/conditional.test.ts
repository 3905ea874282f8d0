// Unit tests for RFC 9110 entity-tag comparison: strong for If-Match, weak for If-None-Match.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ifMatchSatisfied, ifNoneMatchHits } from './conditional.ts'

describe('ifMatchSatisfied (strong comparison)', () => {
  it('matches the exact strong tag, alone or in a list', () => {
    assert.equal(ifMatchSatisfied('"v2"', '"v2"'), true)
    assert.equal(ifMatchSatisfied('"v1", "v2"', '"v2"'), true)
    assert.equal(ifMatchSatisfied('"v1","v2"', '"v2"'), true)
  })
  it('does not match another tag or a weak tag', () => {
    assert.equal(ifMatchSatisfied('"v1"', '"v2"'), false)
    assert.equal(ifMatchSatisfied('W/"v2"', '"v2"'), false)
    assert.equal(ifMatchSatisfied('"v2"', 'W/"v2"'), false)
    assert.equal(ifMatchSatisfied('v2', '"v2"'), false)
    assert.equal(ifMatchSatisfied('', '"v2"'), false)
  })
  it('treats * as any current representation, alone only (in a list it is no tag)', () => {
    assert.equal(ifMatchSatisfied('*', '"v9"'), true)
    assert.equal(ifMatchSatisfied(' * ', '"v9"'), true)
    assert.equal(ifMatchSatisfied('"v1", *', '"v9"'), false)
    assert.equal(ifMatchSatisfied('*, "v9"', '"v9"'), true)
  })
})

describe('ifNoneMatchHits (weak comparison)', () => {
  it('hits on the same opaque tag, weak or strong on either side', () => {
    assert.equal(ifNoneMatchHits('"v2"', '"v2"'), true)
    assert.equal(ifNoneMatchHits('W/"v2"', '"v2"'), true)
    assert.equal(ifNoneMatchHits('"abc"', 'W/"abc"'), true)
    assert.equal(ifNoneMatchHits('"x", W/"abc"', 'W/"abc"'), true)
  })
  it('misses on other tags', () => {
    assert.equal(ifNoneMatchHits('"v1"', '"v2"'), false)
    assert.equal(ifNoneMatchHits('W/"v1", "v3"', '"v2"'), false)
  })
  it('treats * as a hit, alone only', () => {
    assert.equal(ifNoneMatchHits('*', '"v1"'), true)
    assert.equal(ifNoneMatchHits('"v0", *', '"v1"'), false)
  })
})

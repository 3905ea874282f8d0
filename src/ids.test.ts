// src/ids.ts: UUIDv7 ids, their format, time, order and randomness.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { uuidv7 } from './ids.ts'

const V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

/** The Unix time in milliseconds an id carries (its first 48 bits). */
const msecsOf = (id: string) => Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16)

describe('uuidv7', () => {
  it('makes RFC 9562 version-7 ids carrying the current time', () => {
    const before = Date.now()
    const id = uuidv7()
    const after = Date.now()
    assert.match(id, V7)
    assert.ok(msecsOf(id) >= before && msecsOf(id) <= after, `${id} is not from ${before}..${after}`)
  })

  it('only ever increases, across many ids in one millisecond and across pool refills', () => {
    // 5,000 ids span many refills of the 256-id pool and many ids per millisecond.
    const ids = Array.from({ length: 5000 }, () => uuidv7())
    for (let i = 1; i < ids.length; i++)
      assert.ok((ids[i] as string) > (ids[i - 1] as string), `${ids[i]} does not follow ${ids[i - 1]}`)
    assert.equal(new Set(ids).size, ids.length)
  })

  it('keeps increasing when the clock steps back', (t) => {
    const first = uuidv7()
    t.mock.method(Date, 'now', () => msecsOf(first) - 60_000)
    const later = [uuidv7(), uuidv7()]
    assert.ok((later[0] as string) > first && (later[1] as string) > (later[0] as string))
  })

  it('draws fresh random bits for every id (no pool reuse)', () => {
    // The last 48 bits are random in every id; 1,000 ids sharing any would mean bytes reused.
    const tails = new Set(Array.from({ length: 1000 }, () => uuidv7().slice(-12)))
    assert.equal(tails.size, 1000)
  })
})

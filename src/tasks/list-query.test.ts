// Unit tests for list query parsing and opaque cursors (no database).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ApiError } from '../errors.ts'
import { encodeCursor, formatSort, MAX_LIMIT, parseListQuery, type RawListQuery } from './list-query.ts'

const ME = '0193a000-0000-7000-8000-00000000000a'
const OTHER = '0193A000-0000-7000-8000-00000000000B'

function failure(raw: RawListQuery): { field: string; message: string }[] {
  try {
    parseListQuery(raw, ME)
  } catch (error) {
    assert.ok(error instanceof ApiError, String(error))
    assert.equal(error.status, 422)
    assert.equal(error.code, 'VALIDATION_FAILED')
    return error.details ?? []
  }
  assert.fail('expected 422')
}

describe('parseListQuery', () => {
  it('has the documented defaults', () => {
    const plan = parseListQuery({}, ME)
    assert.equal(plan.limit, 20)
    assert.equal(plan.offset, 0)
    assert.deepEqual(plan.sort, [{ field: 'createdAt', descending: true }])
    assert.deepEqual(plan.filter, { deleted: 'exclude' })
    assert.equal(plan.position, undefined)
  })

  it('caps limit at 100 and keeps smaller values', () => {
    assert.equal(parseListQuery({ limit: 1000 }, ME).limit, MAX_LIMIT)
    assert.equal(parseListQuery({ limit: 100 }, ME).limit, 100)
    assert.equal(parseListQuery({ limit: 7, offset: 14 }, ME).offset, 14)
  })

  it('parses every filter', () => {
    const plan = parseListQuery(
      {
        status: 'todo,doing,todo',
        priority: 'high,urgent',
        ownerId: 'me',
        tag: ' Docs ',
        dueBefore: '2026-12-01T02:00:00+02:00',
        dueAfter: '2026-11-01T00:00:00Z',
        q: '  hello world ',
        deleted: 'include',
      },
      ME,
    )
    assert.deepEqual(plan.filter, {
      deleted: 'include',
      statuses: ['todo', 'doing'],
      priorities: ['high', 'urgent'],
      ownerId: ME,
      tag: 'docs',
      dueBefore: '2026-12-01T00:00:00.000Z',
      dueAfter: '2026-11-01T00:00:00.000Z',
      q: 'hello world',
    })
    assert.equal(parseListQuery({ ownerId: OTHER }, ME).filter.ownerId, OTHER.toLowerCase())
  })

  it('searches by relevance unless a sort is given', () => {
    assert.equal(parseListQuery({ q: 'x' }, ME).sort, null)
    assert.deepEqual(parseListQuery({ q: 'x', sort: 'title' }, ME).sort, [
      { field: 'title', descending: false },
    ])
  })

  it('parses multi-key sorts with direction', () => {
    const plan = parseListQuery({ sort: '-priority,dueAt,title' }, ME)
    assert.deepEqual(plan.sort, [
      { field: 'priority', descending: true },
      { field: 'dueAt', descending: false },
      { field: 'title', descending: false },
    ])
    assert.equal(formatSort(plan.sort ?? []), '-priority,dueAt,title')
  })

  it('names every bad parameter in one error', () => {
    const fields = failure({
      status: 'todo,nope',
      priority: 'meh',
      ownerId: 'someone',
      tag: 'bad tag!',
      dueBefore: 'soon',
      q: '   ',
      sort: 'size',
    }).map((d) => d.field)
    assert.deepEqual(fields.sort(), ['dueBefore', 'ownerId', 'priority', 'q', 'sort', 'status', 'tag'])
  })

  it('rejects a sort that names a field twice', () => {
    assert.deepEqual(
      failure({ sort: 'title,-title' }).map((d) => d.field),
      ['sort'],
    )
  })
})

describe('cursors', () => {
  it('round-trip filters, sort and position, and ignore offset', () => {
    const first = parseListQuery({ status: 'todo', sort: '-priority,title', limit: 5 }, ME)
    const cursor = encodeCursor(first, { after: [3, 'abc'], id: ME })
    assert.match(cursor, /^[A-Za-z0-9_-]+$/)
    const next = parseListQuery({ cursor, offset: 40, limit: 5 }, ME)
    assert.deepEqual(next.filter, first.filter)
    assert.deepEqual(next.sort, first.sort)
    assert.deepEqual(next.position, { after: [3, 'abc'], id: ME })
    assert.equal(next.offset, 0)
    assert.equal(next.limit, 5)
  })

  it('accept the same filters and sort sent again beside the cursor', () => {
    const first = parseListQuery({ status: 'todo', sort: 'title' }, ME)
    const cursor = encodeCursor(first, { after: ['a'], id: ME })
    assert.deepEqual(parseListQuery({ cursor, status: 'todo', sort: 'title' }, ME).filter, first.filter)
  })

  it('round-trip relevance positions', () => {
    const first = parseListQuery({ q: 'docs' }, ME)
    const next = parseListQuery({ cursor: encodeCursor(first, { offset: 20 }) }, ME)
    assert.equal(next.sort, null)
    assert.deepEqual(next.position, { offset: 20 })
  })

  it('are 422 on field cursor when garbage or tampered', () => {
    const good = encodeCursor(parseListQuery({}, ME), { after: ['2026-01-01T00:00:00.000Z'], id: ME })
    const payload = JSON.parse(Buffer.from(good, 'base64url').toString()) as Record<string, unknown>
    const tampered = [
      'garbage',
      '!!!',
      good.slice(0, -3),
      Buffer.from('{"v":2}').toString('base64url'),
      Buffer.from(JSON.stringify({ ...payload, p: { after: [{ x: 1 }], id: ME } })).toString('base64url'),
      Buffer.from(JSON.stringify({ ...payload, p: { after: [], id: ME } })).toString('base64url'),
      Buffer.from(JSON.stringify({ ...payload, f: { deleted: 'exclude', q: 5 } })).toString('base64url'),
      Buffer.from(JSON.stringify({ ...payload, f: { deleted: 'exclude', statuses: ['x'] } })).toString(
        'base64url',
      ),
      Buffer.from(JSON.stringify({ ...payload, s: 'size' })).toString('base64url'),
      Buffer.from(
        JSON.stringify({ ...payload, p: { after: ['2026-01-01T00:00:00.000Z'], id: 'x' } }),
      ).toString('base64url'),
      Buffer.from(JSON.stringify({ ...payload, p: { after: ['yesterday'], id: ME } })).toString('base64url'),
    ]
    for (const cursor of tampered) {
      assert.deepEqual(
        failure({ cursor }).map((d) => d.field),
        ['cursor'],
        `cursor ${cursor} should be refused`,
      )
    }
  })

  it('are 422 when sent with other filters or another sort', () => {
    const cursor = encodeCursor(parseListQuery({ status: 'todo' }, ME), { after: ['t'], id: ME })
    assert.deepEqual(
      failure({ cursor, status: 'done' }).map((d) => d.field),
      ['cursor'],
    )
    assert.deepEqual(
      failure({ cursor, sort: 'title' }).map((d) => d.field),
      ['cursor'],
    )
    assert.deepEqual(
      failure({ cursor, deleted: 'only' }).map((d) => d.field),
      ['cursor'],
    )
  })
})

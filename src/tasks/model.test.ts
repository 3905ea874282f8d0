// Unit tests for the pure task rules: normalisation, changed fields, ETags.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ApiError } from '../errors.ts'
import { normaliseTimestamp } from '../time.ts'
import {
  changedFields,
  normaliseTags,
  normaliseTaskInput,
  type Task,
  taskEtag,
  withDefaults,
} from './model.ts'

function detailsOf(fn: () => unknown): { field: string; message: string }[] {
  try {
    fn()
  } catch (error) {
    assert.ok(error instanceof ApiError)
    assert.equal(error.code, 'VALIDATION_FAILED')
    return error.details ?? []
  }
  assert.fail('expected a validation error')
}

const task: Task = {
  id: '0193a000-0000-7000-8000-000000000001',
  title: 'Write',
  description: '',
  status: 'todo',
  priority: 'normal',
  dueAt: null,
  tags: ['a', 'b'],
  ownerId: '0193a000-0000-7000-8000-000000000002',
  createdAt: '2026-01-01T00:00:00.000Z',
  updatedAt: '2026-01-01T00:00:00.000Z',
  deletedAt: null,
  version: 3,
}

describe('normaliseTaskInput', () => {
  it('trims the title and keeps other fields', () => {
    const out = normaliseTaskInput({
      title: '  Hello  ',
      description: ' x ',
      status: 'done',
      priority: 'high',
    })
    assert.deepEqual(out, { title: 'Hello', description: ' x ', status: 'done', priority: 'high' })
  })

  it('rejects a blank title, a title over 200 characters and control characters', () => {
    assert.deepEqual(
      detailsOf(() => normaliseTaskInput({ title: '   ' })),
      [{ field: 'title', message: 'must not be empty' }],
    )
    assert.equal(detailsOf(() => normaliseTaskInput({ title: 'x'.repeat(201) }))[0]?.field, 'title')
    assert.match(detailsOf(() => normaliseTaskInput({ title: 'a\u0007b' }))[0]?.message ?? '', /control/)
  })

  it('keeps tabs and newlines in a description but refuses NUL', () => {
    assert.equal(normaliseTaskInput({ description: 'a\tb\nc' }).description, 'a\tb\nc')
    assert.deepEqual(
      detailsOf(() => normaliseTaskInput({ description: 'a\u0000b' })).map((d) => d.field),
      ['description'],
    )
  })

  it('refuses unpaired surrogates in a title or description, which no engine could store as sent', () => {
    assert.deepEqual(
      detailsOf(() => normaliseTaskInput({ title: 'a\ud800b', description: 'x\udfffy' })).map((d) => d.field),
      ['title', 'description'],
    )
    assert.equal(normaliseTaskInput({ title: 'pair 😀', description: '\ud83d\ude00' }).description, '😀')
  })

  it('counts the title length in characters, not UTF-16 units, and allows exactly 200', () => {
    assert.equal(normaliseTaskInput({ title: '😀'.repeat(200) }).title, '😀'.repeat(200))
    assert.equal(normaliseTaskInput({ title: ` ${'x'.repeat(200)} ` }).title, 'x'.repeat(200))
  })

  it('normalises dueAt with an offset to UTC with milliseconds; null stays null', () => {
    assert.equal(normaliseTaskInput({ dueAt: '2026-11-22T12:00:00+02:00' }).dueAt, '2026-11-22T10:00:00.000Z')
    assert.equal(normaliseTaskInput({ dueAt: null }).dueAt, null)
    assert.equal(detailsOf(() => normaliseTaskInput({ dueAt: 'tomorrow' }))[0]?.field, 'dueAt')
  })

  it('lists every problem, not only the first', () => {
    const details = detailsOf(() => normaliseTaskInput({ title: '', dueAt: 'nope', tags: ['ok', 'b@d'] }))
    assert.deepEqual(
      details.map((d) => d.field),
      ['title', 'dueAt', 'tags.1'],
    )
  })
})

describe('normaliseTags', () => {
  it('trims, lower-cases and de-duplicates, keeping first-seen order', () => {
    const details: { field: string; message: string }[] = []
    assert.deepEqual(normaliseTags([' Docs ', 'docs', 'A-b_1', 'DOCS'], details), ['docs', 'a-b_1'])
    assert.deepEqual(details, [])
  })

  it('rejects bad tags by index and more than 20 distinct tags', () => {
    const details: { field: string; message: string }[] = []
    normaliseTags(['ok', '', 'x'.repeat(41), 'with space'], details)
    assert.deepEqual(
      details.map((d) => d.field),
      ['tags.1', 'tags.2', 'tags.3'],
    )
    const many: { field: string; message: string }[] = []
    normaliseTags(
      Array.from({ length: 21 }, (_, i) => `t${i}`),
      many,
    )
    assert.deepEqual(
      many.map((d) => d.field),
      ['tags'],
    )
  })

  it('accepts 20 distinct tags even when duplicates push the raw count past 20', () => {
    const details: { field: string; message: string }[] = []
    const tags = Array.from({ length: 20 }, (_, i) => `t${i}`)
    assert.equal(normaliseTags([...tags, ...tags.map((t) => t.toUpperCase())], details).length, 20)
    assert.deepEqual(details, [])
  })
})

describe('normaliseTimestamp', () => {
  it('returns undefined for garbage', () => {
    assert.equal(normaliseTimestamp('not a date'), undefined)
    assert.equal(normaliseTimestamp('2026-11-22T10:00:00Z'), '2026-11-22T10:00:00.000Z')
  })

  it('refuses instants outside the years 0001–9999 in UTC (PostgreSQL cannot store them)', () => {
    assert.equal(normaliseTimestamp('0000-06-01T00:00:00Z'), undefined)
    assert.equal(normaliseTimestamp('0001-01-01T00:30:00+01:00'), undefined)
    assert.equal(normaliseTimestamp('9999-12-31T23:00:00-02:00'), undefined)
    assert.equal(normaliseTimestamp('0001-01-01T00:00:00Z'), '0001-01-01T00:00:00.000Z')
    assert.equal(normaliseTimestamp('9999-12-31T23:59:59.999Z'), '9999-12-31T23:59:59.999Z')
  })
})

describe('withDefaults', () => {
  it('fills the documented defaults', () => {
    assert.deepEqual(withDefaults({ title: 'x' }), {
      title: 'x',
      description: '',
      status: 'todo',
      priority: 'normal',
      dueAt: null,
      tags: [],
    })
  })
})

describe('changedFields', () => {
  it('is empty for an empty patch or a patch that repeats current values', () => {
    assert.deepEqual(changedFields(task, {}), {})
    assert.deepEqual(
      changedFields(task, { title: 'Write', status: 'todo', tags: ['a', 'b'], dueAt: null }),
      {},
    )
  })

  it('keeps only what differs, including clearing and tag changes', () => {
    const withDue = { ...task, dueAt: '2026-01-02T00:00:00.000Z' }
    assert.deepEqual(changedFields(withDue, { dueAt: null, title: 'Write', priority: 'urgent' }), {
      dueAt: null,
      priority: 'urgent',
    })
    assert.deepEqual(changedFields(task, { tags: ['b', 'a'] }), { tags: ['b', 'a'] })
  })
})

describe('taskEtag', () => {
  it('is a strong tag that changes with the version', () => {
    assert.equal(taskEtag(task), '"v3"')
    assert.ok(!taskEtag(task).startsWith('W/'))
    assert.notEqual(taskEtag(task), taskEtag({ version: 4 }))
  })
})

// timestamptz text from PostgreSQL read as the service's time text (RFC 3339 UTC, milliseconds),
// and which statements are named (prepared once per connection).
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { PREPARED_WRITE, statementName, timestamptzText } from './postgres.ts'

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

  for (const text of [
    '2026-12-04 11:49:54.+00', // a point without digits
    '2026-12-04T11:49:54.812+00', // not PostgreSQL's layout
    '2026-12-04 11:49:54.8123456+00', // more than microseconds
    '2026-12-04 11:49:5x.812+00',
    '2026-12-04 11:49:54.81x+00',
    '2026-12-04 11:49:54.812+0',
    '2026-12-04 11:49:54.812-00',
    '+12026-12-04 11:49:54+00',
  ]) {
    it(`does not read ${text} as UTC text (pg's parser answers it)`, () => {
      assert.ok(!(typeof timestamptzText(text) === 'string'), text)
    })
  }

  it('reads a time in another zone through pg (a Date for the same instant)', () => {
    const value = timestamptzText('2026-12-04 12:49:54.812+01')
    assert.ok(value instanceof Date)
    assert.equal(value.toISOString(), '2026-12-04T11:49:54.812Z')
  })
})

describe('statementName', () => {
  it('names reads: SELECTs and WITH statements that only read, the same name for the same text', () => {
    const select = 'SELECT id FROM tasks WHERE id = $1 /* naming test 1 */'
    const withRead = `WITH matches AS MATERIALIZED (SELECT tasks.id FROM tasks WHERE tasks.updated_at > $1)
      SELECT (SELECT count(*) FROM matches) AS total, deleted_at FROM matches /* naming test 2 */`
    const first = statementName(select)
    assert.match(first ?? '', /^tt_\d+$/)
    assert.equal(statementName(select), first)
    const second = statementName(withRead)
    assert.match(second ?? '', /^tt_\d+$/, 'column names such as updated_at or deleted_at are not writes')
    assert.notEqual(second, first)
    assert.equal(statementName(`  select 1 /* naming test 3 */`)?.startsWith('tt_'), true)
  })

  it('never names a statement that writes', () => {
    for (const text of [
      'INSERT INTO tasks (id) VALUES ($1) /* naming test 4 */',
      'UPDATE tasks SET title = $1 /* naming test 5 */',
      'DELETE FROM tasks WHERE id = $1 /* naming test 6 */',
      'WITH task_row AS (UPDATE tasks SET version = version + 1 WHERE id = $1 RETURNING id) SELECT id FROM task_row /* 7 */',
      'WITH e AS (INSERT INTO events (type) VALUES ($1) RETURNING id) SELECT pg_notify($2, $3) FROM e /* 8 */',
      'WITH gone AS (DELETE FROM task_tags WHERE task_id = $1) SELECT 1 /* naming test 9 */',
    ]) {
      assert.equal(statementName(text), undefined, text)
      assert.equal(statementName(text), undefined, `${text} (asked again)`)
    }
  })

  it('names a write that starts with PREPARED_WRITE, and only such a write', () => {
    const write =
      'WITH task_row AS (UPDATE tasks SET title = $1 WHERE id = $2 RETURNING id) SELECT id FROM task_row'
    assert.equal(statementName(`${write} /* naming test 10 */`), undefined)
    assert.match(statementName(`${PREPARED_WRITE}${write} /* naming test 11 */`) ?? '', /^tt_\d+$/)
  })
})

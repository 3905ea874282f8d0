// Unit tests for reading task rows: a row read as values (Database.readNow on SQLite, and every
// listing) must give the same task as the row read as an object, column for column.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { rowValues } from '../db/database.ts'
import { TASK_COLUMNS, type TaskRow, taskFromValues, toTask } from './repository.ts'

/** A tasks row in TASK_COLUMNS order, every column with a value no other column has. */
function sqliteRow(): TaskRow {
  const row = {
    id: '019af52b-1cb5-7215-88c5-2b144d9f7fdd',
    owner_id: '019a372e-5bc6-7154-bc12-5603fb3178b9',
    title: 'Review the invoice export',
    description: 'Check the March lines',
    status: 'doing' as const,
    priority: 3,
    due_at: '2026-12-20T10:00:00.000Z',
    tags: '["billing","backend"]',
    created_at: '2026-11-20T10:00:00.000Z',
    updated_at: '2026-11-21T11:00:00.000Z',
    deleted_at: '2026-11-22T12:00:00.000Z',
    version: 7,
  }
  assert.deepEqual(
    Object.keys(row),
    TASK_COLUMNS.map((c) => c.slice('tasks.'.length)),
    'the fixture follows TASK_COLUMNS',
  )
  return row
}

describe('taskFromValues', () => {
  it('reads each column where TASK_COLUMNS puts it, as toTask reads it by name', () => {
    const row = sqliteRow()
    const [values] = rowValues([row])
    assert.deepEqual(taskFromValues(values ?? []), toTask(row))
    assert.deepEqual(toTask(row), {
      id: row.id,
      title: 'Review the invoice export',
      description: 'Check the March lines',
      status: 'doing',
      priority: 'urgent',
      dueAt: '2026-12-20T10:00:00.000Z',
      tags: ['billing', 'backend'],
      ownerId: row.owner_id,
      createdAt: '2026-11-20T10:00:00.000Z',
      updatedAt: '2026-11-21T11:00:00.000Z',
      deletedAt: '2026-11-22T12:00:00.000Z',
      version: 7,
    })
  })

  it('reads an object row by its column names, whatever their order', () => {
    const row = sqliteRow()
    const reversed = Object.fromEntries(Object.entries(row).reverse()) as unknown as TaskRow
    assert.notDeepEqual(Object.keys(reversed), Object.keys(row))
    assert.deepEqual(toTask(reversed), toTask(row))
    assert.equal(toTask(reversed).title, 'Review the invoice export')
  })

  it('starts where the task columns start, past a total selected before them, and ignores what follows', () => {
    const row = sqliteRow()
    const values = [12_345, ...Object.values(row), 'sort key', row.id]
    assert.deepEqual(taskFromValues(values, 1), toTask(row))
    const task = taskFromValues(values, 1)
    assert.equal(task.id, row.id)
    assert.equal(task.ownerId, row.owner_id)
    assert.equal(task.title, 'Review the invoice export')
    assert.equal(task.version, 7)
  })

  it('reads PostgreSQL types (Date times, parsed JSON tags, null due date) as toTask does', () => {
    const row: TaskRow = {
      ...sqliteRow(),
      due_at: null,
      tags: ['billing'],
      created_at: new Date('2026-11-20T10:00:00.000Z'),
      updated_at: new Date('2026-11-21T11:00:00.000Z'),
      deleted_at: null,
    }
    const task = taskFromValues(Object.values(row))
    assert.deepEqual(task, toTask(row))
    assert.equal(task.createdAt, '2026-11-20T10:00:00.000Z')
    assert.equal(task.dueAt, null)
    assert.deepEqual(task.tags, ['billing'])
    assert.equal(task.title, 'Review the invoice export')
    assert.equal(task.description, 'Check the March lines')
    assert.equal(task.status, 'doing')
    assert.equal(task.priority, 'urgent')
  })
})

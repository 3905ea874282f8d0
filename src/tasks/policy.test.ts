// Unit tests for the task policy: who may see and change which task.
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Principal } from '../auth/scopes.ts'
import { can, canSee, canSeeAllDeleted } from './policy.ts'

const principal = (userId: string, role: Principal['role'] = 'user'): Principal => ({
  userId,
  role,
  scopes: new Set(['tasks:read', 'tasks:write']),
  via: 'session',
})
const owner = principal('owner')
const other = principal('other')
const admin = principal('admin', 'admin')
const live = { ownerId: 'owner', deletedAt: null }
const deleted = { ownerId: 'owner', deletedAt: '2026-01-01T00:00:00.000Z' }

describe('task policy', () => {
  it('lets everyone read a live task', () => {
    for (const p of [owner, other, admin]) assert.equal(can(p, 'task:read', live), true)
  })
  it('hides a deleted task from everyone but its owner and admins', () => {
    assert.equal(canSee(owner, deleted), true)
    assert.equal(canSee(admin, deleted), true)
    assert.equal(canSee(other, deleted), false)
    assert.equal(can(other, 'task:read', deleted), false)
  })
  it('lets only the owner or an admin change, delete or restore', () => {
    for (const action of ['task:update', 'task:delete', 'task:restore'] as const) {
      assert.equal(can(owner, action, live), true, action)
      assert.equal(can(admin, action, live), true, action)
      assert.equal(can(other, action, live), false, action)
      assert.equal(can(other, action, deleted), false, action)
    }
  })
  it('lets only admins list every owner’s deleted tasks', () => {
    assert.equal(canSeeAllDeleted(admin), true)
    assert.equal(canSeeAllDeleted(owner), false)
  })
})

// Acceptance: invalid configuration stops the start with one message naming every bad variable
// (API.md §6) — a JWT_PRIVATE_KEY that is not an Ed25519 PKCS#8 PEM included.
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { describe, it } from 'node:test'
import { ConfigError, loadConfig } from '../src/config.ts'

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env)
  } catch (error) {
    assert.ok(error instanceof ConfigError)
    return error.problems
  }
  return []
}

describe('configuration errors', () => {
  it('names a bad JWT_PRIVATE_KEY together with the other bad variables, without echoing it', () => {
    const problems = problemsOf({ JWT_PRIVATE_KEY: 'not-a-key-secret', PORT: 'abc' })
    assert.ok(
      problems.some((p) => p.startsWith('JWT_PRIVATE_KEY:')),
      problems.join('; '),
    )
    assert.ok(
      problems.some((p) => p.startsWith('PORT:')),
      problems.join('; '),
    )
    assert.ok(!problems.join(' ').includes('not-a-key-secret'))
  })

  it('refuses a key of another type and accepts an Ed25519 PKCS#8 PEM', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({
      type: 'pkcs8',
      format: 'pem',
    })
    assert.ok(problemsOf({ JWT_PRIVATE_KEY: String(rsa) }).some((p) => p.startsWith('JWT_PRIVATE_KEY:')))
    const ed = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' })
    assert.deepEqual(problemsOf({ JWT_PRIVATE_KEY: String(ed) }), [])
  })
})

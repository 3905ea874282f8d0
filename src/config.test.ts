// Unit tests for configuration: defaults, one error naming every bad variable, NAME_FILE secrets.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { ConfigError, loadConfig } from './config.ts'

const dir = mkdtempSync(join(tmpdir(), 'tt-config-'))
after(() => rmSync(dir, { recursive: true, force: true }))

function problemsOf(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env)
  } catch (error) {
    assert.ok(error instanceof ConfigError, String(error))
    return error
  }
  assert.fail('expected a ConfigError')
}

describe('loadConfig', () => {
  it('has the documented defaults with an empty environment', () => {
    const c = loadConfig({})
    assert.equal(c.PORT, 3000)
    assert.equal(c.HOST, '127.0.0.1')
    assert.equal(c.DATA_DIR, './data')
    assert.equal(c.DATABASE_URL, undefined)
    assert.equal(c.BODY_LIMIT_BYTES, 1_048_576)
    assert.equal(c.ACCESS_TOKEN_TTL_SECONDS, 900)
    assert.equal(c.SHUTDOWN_TIMEOUT_MS, 10_000)
    assert.equal(c.TASK_RETENTION_DAYS, 30)
    assert.equal(c.REQUIRE_IF_MATCH, false)
    assert.equal(c.CORS_ORIGINS, '')
    assert.equal(c.METRICS_TOKEN, undefined)
  })

  it('converts numbers and booleans from text', () => {
    const c = loadConfig({ PORT: '8080', REQUIRE_IF_MATCH: 'true', RATE_LIMIT_PER_MINUTE: '0' })
    assert.equal(c.PORT, 8080)
    assert.equal(c.REQUIRE_IF_MATCH, true)
    assert.equal(c.RATE_LIMIT_PER_MINUTE, 0)
  })

  it('names every bad variable in one error', () => {
    const error = problemsOf({
      PORT: 'abc',
      RATE_LIMIT_PER_MINUTE: '-1',
      LOG_LEVEL: 'loud',
      DATABASE_URL: 'mysql://x',
      REQUIRE_IF_MATCH: 'maybe',
    })
    for (const name of ['PORT', 'RATE_LIMIT_PER_MINUTE', 'LOG_LEVEL', 'DATABASE_URL', 'REQUIRE_IF_MATCH'])
      assert.match(error.message, new RegExp(`\\b${name}\\b`), `${name} missing from: ${error.message}`)
    assert.doesNotMatch(error.message, /\bHOST\b/)
    assert.match(error.message, /LOG_LEVEL: must be one of fatal, error, warn, info, debug, trace, silent/)
  })

  it('takes integers written in digits only: no exponent, hex or fraction is truncated into another value', () => {
    for (const [key, value] of [
      ['PORT', '1e3'],
      ['PORT', '0x10'],
      ['PORT', '3000.9'],
      ['LOGIN_LOCKOUT_SECONDS', '9e2'],
      ['ACCESS_TOKEN_TTL_SECONDS', '900.5'],
      ['BODY_LIMIT_BYTES', '1e6'],
      ['RATE_LIMIT_AUTH_PER_MINUTE', ' 20'],
    ]) {
      const error = problemsOf({ [key as string]: value as string })
      assert.deepEqual(
        error.problems,
        [`${key}: must be a whole number written in digits`],
        `${key}=${value}`,
      )
    }
    assert.equal(loadConfig({ PORT: '0' }).PORT, 0)
  })

  it('checks the external identity provider variables with the rest, in the same one message', () => {
    const error = problemsOf({
      PORT: 'abc',
      TRUST_PROXY: 'yes',
      AUTH_JWKS_URL: 'https://idp.example/jwks',
      AUTH_ALGORITHMS: 'HS256',
    })
    const named = error.problems.map((p) => p.split(':')[0])
    assert.deepEqual(named, [
      'PORT',
      'TRUST_PROXY',
      'AUTH_JWKS_URL, AUTH_ISSUER and AUTH_AUDIENCE',
      'AUTH_ALGORITHMS',
    ])
    const sameIssuer = problemsOf({
      AUTH_JWKS_URL: 'https://idp.example/jwks',
      AUTH_ISSUER: 'task-tracker',
      AUTH_AUDIENCE: 'api',
    })
    assert.deepEqual(sameIssuer.problems, ['AUTH_ISSUER: must differ from JWT_ISSUER'])
  })

  it('never echoes a bad value (it may be a secret)', () => {
    const secret = 's3cr3t-value-do-not-print'
    const error = problemsOf({ PORT: secret, DATABASE_URL: `mysql://${secret}` })
    assert.doesNotMatch(error.message, new RegExp(secret))
  })

  it('reads NAME_FILE as the value of NAME, trimmed', () => {
    const file = join(dir, 'metrics-token')
    writeFileSync(file, 'from-a-file\n')
    assert.equal(loadConfig({ METRICS_TOKEN_FILE: file }).METRICS_TOKEN, 'from-a-file')
  })

  it('refuses NAME and NAME_FILE together, and an unreadable NAME_FILE, naming them', () => {
    const file = join(dir, 'token')
    writeFileSync(file, 'secret-from-file')
    const both = problemsOf({ METRICS_TOKEN: 'secret-direct', METRICS_TOKEN_FILE: file })
    assert.match(both.message, /METRICS_TOKEN/)
    assert.doesNotMatch(both.message, /secret-direct|secret-from-file/)
    const missing = problemsOf({ JWT_PRIVATE_KEY_FILE: join(dir, 'nope.pem'), PORT: 'x' })
    assert.match(missing.message, /JWT_PRIVATE_KEY_FILE/)
    assert.match(missing.message, /PORT/)
    assert.doesNotMatch(missing.message, /nope\.pem/)
  })
})

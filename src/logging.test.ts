import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { REDACTED, scrubSecrets } from './logging.ts'

describe('scrubSecrets', () => {
  it('returns a line without secrets as it is, without copying it', () => {
    const line = { userId: 'u1', method: 'GET', status: 200, nested: { route: '/v1/tasks' } }
    assert.equal(scrubSecrets(line), line)
  })

  it('replaces secret-named properties at the top and nested, whatever their case', () => {
    const line = {
      Authorization: 'Bearer abc',
      body: { email: 'a@b.c', Password: 'hunter2', deeper: { refreshToken: 'r', list: [{ secret: 's' }] } },
    }
    const out = scrubSecrets(line) as typeof line
    assert.equal(out.Authorization, REDACTED)
    assert.equal(out.body.Password, REDACTED)
    assert.equal(out.body.email, 'a@b.c')
    assert.equal(out.body.deeper.refreshToken, REDACTED)
    assert.equal((out.body.deeper.list[0] as { secret: string }).secret, REDACTED)
    // The caller's object is unchanged.
    assert.equal(line.body.Password, 'hunter2')
    assert.equal((line.body.deeper.list[0] as { secret: string }).secret, 's')
  })

  it('keeps an error an error (prototype, message, stack) and scrubs its cause', () => {
    const cause = Object.assign(new Error('inner'), { token: 't' })
    const err = Object.assign(new TypeError('outer', { cause }), { password: 'p' })
    const out = scrubSecrets({ err }).err as TypeError & { password: string; cause: { token: string } }
    assert.ok(out instanceof TypeError)
    assert.equal(out.message, 'outer')
    assert.equal(out.stack, err.stack)
    assert.equal(out.password, REDACTED)
    assert.equal(out.cause.token, REDACTED)
    assert.equal(err.password, 'p')
    assert.equal((err.cause as { token: string }).token, 't')
  })

  it("keeps a Redis command's name but not its arguments (AUTH and HELLO carry the password)", () => {
    // The shape ioredis gives a command's error (DataHandler.returnError): a failed handshake
    // rejects the commands queued behind it with this error.
    const err = Object.assign(new Error('WRONGPASS invalid username-password pair'), {
      command: { name: 'hello', args: ['3', 'AUTH', 'default', 'hunter2'] },
    })
    const out = scrubSecrets({ err }).err as typeof err
    assert.deepEqual(out.command, { name: 'hello', args: REDACTED })
    assert.ok(!JSON.stringify(scrubSecrets({ err })).includes('hunter2'))
    assert.deepEqual(err.command.args, ['3', 'AUTH', 'default', 'hunter2'])
  })

  it('stops at a bounded depth, so a cyclic object cannot hang a log call', () => {
    const a: Record<string, unknown> = { name: 'a' }
    a.self = a
    assert.doesNotThrow(() => scrubSecrets({ a }))
  })
})

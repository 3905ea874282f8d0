// RFC 8725 (JWT best current practices) as it applies to our access tokens: every
// forged, confused, stale or misdirected token is 401 INVALID_TOKEN with
// WWW-Authenticate, and no credential shape produces a 500.
import assert from 'node:assert/strict'
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import http from 'node:http'
import { after, before, describe, it } from 'node:test'
import { SignJWT } from 'jose'
import {
  buildTestApp,
  errorOf,
  registerAndLogin,
  type TestApp,
  type TestUser,
  testEngines,
} from './helpers.ts'

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')

for (const engine of testEngines()) {
  describe(`RFC 8725 token rules (${engine})`, () => {
    let t: TestApp
    let user: TestUser
    let kid: string
    let key: KeyObject
    before(async () => {
      t = await buildTestApp({ CREDENTIAL_RECHECK_MS: 0 }, {}, engine)
      user = await registerAndLogin(t.app)
      const row = await t.app.database.db
        .selectFrom('signing_keys')
        .select(['kid', 'private_key'])
        .where('retired_at', 'is', null)
        .executeTakeFirstOrThrow()
      kid = row.kid
      key = createPrivateKey(row.private_key)
    })
    after(() => t.close())

    // The session of the user's own login, which every token the service issues names.
    const sid = () =>
      (JSON.parse(Buffer.from(user.token.split('.')[1] ?? '', 'base64url').toString()) as { sid: string }).sid
    const claims = (): Record<string, unknown> => ({
      role: 'user',
      scope: 'tasks:read tasks:write webhooks:manage',
      sid: sid(),
    })
    const sign = (
      mutate: (jwt: SignJWT) => SignJWT = (j) => j,
      header: Record<string, unknown> = {},
      signingKey: KeyObject | Uint8Array = key,
    ) =>
      mutate(
        new SignJWT(claims())
          .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT', ...header })
          .setIssuer(t.config.JWT_ISSUER)
          .setAudience(t.config.JWT_AUDIENCE)
          .setSubject(user.id)
          .setJti(crypto.randomUUID())
          .setIssuedAt()
          .setExpirationTime('5m'),
      ).sign(signingKey)

    async function rejected(token: string, what: string) {
      const res = await t.app.inject({ url: '/v1/tasks', headers: { authorization: `Bearer ${token}` } })
      assert.equal(res.statusCode, 401, `${what}: ${res.statusCode} ${res.body}`)
      assert.equal(errorOf(res).code, 'INVALID_TOKEN', what)
      assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"', what)
    }

    it('accepts a token forged by nobody (the baseline the other cases differ from)', async () => {
      const res = await t.app.inject({
        url: '/v1/tasks',
        headers: { authorization: `Bearer ${await sign()}` },
      })
      assert.equal(res.statusCode, 200)
    })

    it('refuses a request with two Authorization headers, whichever comes first (over a socket)', async () => {
      const address = await t.app.listen({ port: 0, host: '127.0.0.1' })
      const valid = user.auth.authorization
      const send = (...authorizations: string[]) =>
        new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }>(
          (resolve, reject) => {
            // Headers as a raw list (repeats kept); Node then adds no Host of its own.
            const headers = [
              'Host',
              new URL(address).host,
              ...authorizations.flatMap((value) => ['Authorization', value]),
            ]
            const req = http.request(`${address}/v1/tasks`, { headers }, (res) => {
              let body = ''
              res.setEncoding('utf8')
              res.on('data', (chunk: string) => {
                body += chunk
              })
              res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }))
            })
            req.on('error', reject)
            req.end()
          },
        )
      const single = await send(valid)
      assert.equal(single.status, 200, single.body)
      for (const pair of [
        [valid, 'Bearer garbage'],
        ['Bearer garbage', valid],
        [valid, valid],
      ]) {
        const res = await send(...pair)
        assert.equal(res.status, 400, res.body)
        assert.equal(JSON.parse(res.body).error.code, 'MALFORMED_REQUEST')
        assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_request"')
      }
    })

    it('rejects alg "none"', async () => {
      const payload = {
        ...claims(),
        iss: t.config.JWT_ISSUER,
        aud: t.config.JWT_AUDIENCE,
        sub: user.id,
        jti: 'x',
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 300,
      }
      for (const alg of ['none', 'None', 'NONE']) {
        await rejected(`${b64({ alg, typ: 'JWT', kid })}.${b64(payload)}.`, `alg ${alg}`)
      }
    })

    it('rejects HMAC signed with the public key', async () => {
      const publicPem = createPublicKey(key).export({ type: 'spki', format: 'pem' }).toString()
      const publicRaw = createPublicKey(key).export({ format: 'jwk' }).x as string
      for (const secret of [publicPem, publicRaw]) {
        const token = await sign((j) => j, { alg: 'HS256' }, new TextEncoder().encode(secret))
        await rejected(token, 'HS256 with the public key')
      }
    })

    it('rejects a wrong issuer or audience', async () => {
      await rejected(await sign((j) => j.setIssuer('someone-else')), 'wrong iss')
      await rejected(await sign((j) => j.setAudience('another-api')), 'wrong aud')
    })

    it('rejects expired tokens and tokens not valid yet', async () => {
      const now = Math.floor(Date.now() / 1000)
      await rejected(await sign((j) => j.setIssuedAt(now - 3600).setExpirationTime(now - 60)), 'expired')
      await rejected(await sign((j) => j.setNotBefore(now + 3600)), 'nbf in the future')
      await rejected(
        await sign((j) => j.setIssuedAt(now + 3600).setExpirationTime(now + 4000)),
        'iat in the future',
      )
      // A far exp does not outlive the TTL (900 s here), counted from iat.
      await rejected(
        await sign((j) => j.setIssuedAt(now - 960).setExpirationTime(now + 10 * 365 * 86_400)),
        'older than the TTL',
      )
    })

    it('rejects a token that names no session, or a session that is not the user’s', async () => {
      const without = async (mutateClaims: (c: Record<string, unknown>) => void) => {
        const c = claims()
        mutateClaims(c)
        return new SignJWT(c)
          .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
          .setIssuer(t.config.JWT_ISSUER)
          .setAudience(t.config.JWT_AUDIENCE)
          .setSubject(user.id)
          .setJti(crypto.randomUUID())
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(key)
      }
      await rejected(
        await without((c) => {
          delete c.sid
        }),
        'no sid',
      )
      await rejected(
        await without((c) => {
          c.sid = crypto.randomUUID()
        }),
        'a sid no session has',
      )
      const other = await registerAndLogin(t.app)
      const otherSid = (
        JSON.parse(Buffer.from(other.token.split('.')[1] ?? '', 'base64url').toString()) as { sid: string }
      ).sid
      await rejected(
        await without((c) => {
          c.sid = otherSid
        }),
        'another user’s session',
      )
    })

    it('rejects an unknown kid, a missing kid and a key the service never issued', async () => {
      const stranger = generateKeyPairSync('ed25519').privateKey
      await rejected(await sign((j) => j, { kid: 'unknown-kid' }, stranger), 'unknown kid')
      await rejected(await sign((j) => j, {}, stranger), 'our kid, a stranger key')
      await rejected(await sign((j) => j, { kid: undefined }), 'no kid')
      await rejected(
        await sign((j) => j, { jku: 'http://127.0.0.1:1/jwks.json', kid: 'x' }, stranger),
        'jku header',
      )
    })

    it('rejects a tampered payload', async () => {
      const [header, , signature] = (await sign()).split('.')
      const forged = {
        ...claims(),
        role: 'admin',
        sub: user.id,
        iss: t.config.JWT_ISSUER,
        aud: t.config.JWT_AUDIENCE,
        jti: 'x',
        iat: 1,
        exp: 9_999_999_999,
      }
      await rejected(`${header}.${b64(forged)}.${signature}`, 'tampered payload')
      const [h2, p2, s2 = ''] = user.token.split('.')
      // Flip a character mid-signature: the last one also holds padding bits, so changing it may change nothing.
      const flipped = `${s2.slice(0, 10)}${s2[10] === 'A' ? 'B' : 'A'}${s2.slice(11)}`
      await rejected(`${h2}.${p2}.${flipped}`, 'tampered signature')
    })

    it('rejects tokens of another type, without required claims, or with malformed claims', async () => {
      await rejected(await sign((j) => j, { typ: 'at+jwt' }), 'other typ')
      await rejected(
        await new SignJWT(claims())
          .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
          .setIssuer(t.config.JWT_ISSUER)
          .setAudience(t.config.JWT_AUDIENCE)
          .setSubject(user.id)
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(key),
        'no jti',
      )
      const weird = await new SignJWT({ role: 'root', scope: 7 })
        .setProtectedHeader({ alg: 'EdDSA', kid, typ: 'JWT' })
        .setIssuer(t.config.JWT_ISSUER)
        .setAudience(t.config.JWT_AUDIENCE)
        .setSubject(user.id)
        .setJti('j')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(key)
      await rejected(weird, 'bad role and scope claims')
      const notUuid = await sign((j) => j.setSubject("x' OR 1=1 --"))
      await rejected(notUuid, 'a subject that is no user id')
    })

    it('rejects a token from an untrusted issuer with its own key', async () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
      const token = await new SignJWT(claims())
        .setProtectedHeader({ alg: 'RS256', kid: 'evil' })
        .setIssuer('https://evil.example')
        .setAudience(t.config.JWT_AUDIENCE)
        .setSubject(user.id)
        .setJti('j')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey)
      await rejected(token, 'untrusted issuer')
    })

    it('rejects the token of a deleted account', async () => {
      const doomed = await registerAndLogin(t.app)
      await t.app.database.db.deleteFrom('users').where('id', '=', doomed.id).execute()
      await rejected(doomed.token, 'deleted account')
    })

    it('no Authorization value produces a 500', async () => {
      const values = [
        'Bearer',
        'Bearer ',
        'Basic dXNlcjpwYXNz',
        'bearer a.b.c',
        'Bearer a.b',
        'Bearer a.b.c.d.e',
        'Bearer ...',
        `Bearer ${'A'.repeat(10_000)}`,
        `Bearer ${b64({ alg: 'EdDSA' })}.${b64('not an object')}.sig`,
        `Bearer ${b64([1, 2])}.${b64({})}.x`,
        `Bearer ${Buffer.from('{"alg":').toString('base64url')}.e30.x`,
        'Bearer tt_',
        'Bearer rt_abc',
        'Bearer a b',
        'Bearer é',
      ]
      for (const authorization of values) {
        const res = await t.app.inject({ url: '/v1/tasks', headers: { authorization } })
        assert.equal(res.statusCode, 401, `${authorization.slice(0, 40)} → ${res.statusCode}`)
        assert.ok(['INVALID_TOKEN', 'UNAUTHENTICATED'].includes(errorOf(res).code))
      }
    })
  })
}

// Access tokens from an external OpenID Connect provider, against a JWKS endpoint this test serves itself.
import assert from 'node:assert/strict'
import { generateKeyPairSync } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { exportJWK, SignJWT } from 'jose'
import { buildTestApp, errorOf, registerAndLogin, type TestApp, testEngines } from './helpers.ts'

const ISSUER = 'https://idp.example'
const AUDIENCE = 'task-tracker-external'
const idpKey = generateKeyPairSync('rsa', { modulusLength: 2048 })
const strangerKey = generateKeyPairSync('rsa', { modulusLength: 2048 })

for (const engine of testEngines()) {
  describe(`external identity provider (${engine})`, () => {
    let server: Server
    let t: TestApp
    let jwksHits = 0
    before(async () => {
      const jwk = { ...(await exportJWK(idpKey.publicKey)), kid: 'idp-1', alg: 'RS256', use: 'sig' }
      server = createServer((req, res) => {
        jwksHits += 1
        if (req.url !== '/jwks') return res.writeHead(404).end()
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] }))
      })
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
      const { port } = server.address() as AddressInfo
      t = await buildTestApp(
        {
          AUTH_JWKS_URL: `http://127.0.0.1:${port}/jwks`,
          AUTH_ISSUER: ISSUER,
          AUTH_AUDIENCE: AUDIENCE,
          AUTH_ROLE_CLAIM: 'roles',
          CREDENTIAL_RECHECK_MS: 0,
        },
        {},
        engine,
      )
    })
    after(async () => {
      await t.close()
      server.close()
    })

    const idpToken = (
      claims: Record<string, unknown>,
      options: {
        sub?: string
        aud?: string
        iss?: string
        key?: typeof idpKey.privateKey
        kid?: string
      } = {},
    ) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid: options.kid ?? 'idp-1' })
        .setIssuer(options.iss ?? ISSUER)
        .setAudience(options.aud ?? AUDIENCE)
        .setSubject(options.sub ?? `sub-${crypto.randomUUID()}`)
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(options.key ?? idpKey.privateKey)
    const call = (token: string, url = '/v1/tasks', method: 'GET' | 'POST' = 'GET') =>
      t.app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${token}` },
        ...(method === 'POST' ? { payload: { title: 'From the IdP' } } : {}),
      })

    it('creates the user on first sight, keyed by issuer and subject, and reuses it after', async () => {
      const sub = `sub-${crypto.randomUUID()}`
      const email = `${sub}@corp.example`
      const token = await idpToken({ scope: 'tasks:read tasks:write', email, name: 'Ext User' }, { sub })
      const me = await call(token, '/v1/me')
      assert.equal(me.statusCode, 200)
      const user = me.json() as { id: string; email: string; name: string; role: string }
      assert.equal(user.email, email)
      assert.equal(user.name, 'Ext User')
      assert.equal(user.role, 'user')
      const again = await call(await idpToken({ scope: 'tasks:read' }, { sub }), '/v1/me')
      assert.equal((again.json() as { id: string }).id, user.id)
      const identities = await t.app.database.db
        .selectFrom('identities')
        .selectAll()
        .where('subject', '=', sub)
        .execute()
      assert.equal(identities.length, 1)
      assert.equal(identities[0]?.issuer, ISSUER)
      assert.equal(identities[0]?.user_id, user.id)
      const created = await call(token, '/v1/tasks', 'POST')
      assert.equal(created.statusCode, 201)
      assert.equal((created.json() as { ownerId: string }).ownerId, user.id)
      assert.ok(jwksHits >= 1)
    })

    it('scopes come from the scope claim; none means none', async () => {
      const reader = await idpToken({ scope: 'tasks:read' })
      assert.equal((await call(reader)).statusCode, 200)
      const write = await call(reader, '/v1/tasks', 'POST')
      assert.equal(write.statusCode, 403)
      assert.equal(errorOf(write).code, 'INSUFFICIENT_SCOPE')
      assert.equal((await call(await idpToken({}))).statusCode, 403)
      assert.equal((await call(await idpToken({ scope: ['tasks:read'] }))).statusCode, 200)
    })

    it('the role comes from the configured role claim', async () => {
      const admin = await idpToken({ scope: 'tasks:read', roles: ['admin'] })
      assert.equal((await call(admin, '/v1/users')).statusCode, 200)
      const user = await idpToken({ scope: 'tasks:read', roles: ['viewer'] })
      assert.equal((await call(user, '/v1/users')).statusCode, 403)
    })

    it('never links to an existing password account by email', async () => {
      const local = await registerAndLogin(t.app)
      const me = await call(await idpToken({ scope: 'tasks:read', email: local.email }), '/v1/me')
      assert.equal(me.statusCode, 200)
      const ext = me.json() as { id: string; email: string }
      assert.notEqual(ext.id, local.id)
      assert.notEqual(ext.email, local.email)
    })

    it('rejects wrong audience, foreign keys, HMAC and untrusted issuers with 401 INVALID_TOKEN', async () => {
      const cases = [
        await idpToken({ scope: 'tasks:read' }, { aud: 'someone-else' }),
        await idpToken({ scope: 'tasks:read' }, { key: strangerKey.privateKey }),
        await idpToken({ scope: 'tasks:read' }, { key: strangerKey.privateKey, kid: 'other' }),
        await idpToken({ scope: 'tasks:read' }, { iss: 'https://evil.example', key: strangerKey.privateKey }),
        await new SignJWT({ scope: 'tasks:read' })
          .setProtectedHeader({ alg: 'HS256', kid: 'idp-1' })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setSubject('hmac')
          .setExpirationTime('5m')
          .sign(new TextEncoder().encode(JSON.stringify(await exportJWK(idpKey.publicKey)))),
        await new SignJWT({ scope: 'tasks:read' })
          .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
          .setIssuer(ISSUER)
          .setAudience(AUDIENCE)
          .setSubject('expired')
          .setIssuedAt(Math.floor(Date.now() / 1000) - 600)
          .setExpirationTime(Math.floor(Date.now() / 1000) - 300)
          .sign(idpKey.privateKey),
      ]
      for (const [i, token] of cases.entries()) {
        const res = await call(token)
        assert.equal(res.statusCode, 401, `case ${i}`)
        assert.equal(errorOf(res).code, 'INVALID_TOKEN')
        assert.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"')
      }
    })
  })
}

describe('external provider outage', () => {
  it('an unreachable key endpoint is 503, not a bad token', async () => {
    const server = createServer((_req, res) => res.writeHead(200).end('{"keys":[]}'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as AddressInfo
    await new Promise((resolve) => server.close(resolve))
    const t = await buildTestApp({
      AUTH_JWKS_URL: `http://127.0.0.1:${port}/jwks`,
      AUTH_ISSUER: ISSUER,
      AUTH_AUDIENCE: AUDIENCE,
    })
    try {
      const token = await new SignJWT({ scope: 'tasks:read' })
        .setProtectedHeader({ alg: 'RS256', kid: 'idp-1' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setSubject('someone')
        .setExpirationTime('5m')
        .sign(idpKey.privateKey)
      const res = await t.app.inject({ url: '/v1/tasks', headers: { authorization: `Bearer ${token}` } })
      assert.equal(res.statusCode, 503)
      assert.equal(errorOf(res).code, 'SERVICE_UNAVAILABLE')
      assert.ok(res.headers['retry-after'])
    } finally {
      await t.close()
    }
  })
})

describe('external provider configuration', () => {
  it('refuses to start with a partial configuration', async () => {
    await assert.rejects(buildTestApp({ AUTH_ISSUER: ISSUER }), /must be set together/)
  })
})

// Signing keys in the database: rotation, verification across instances, JWKS,
// encryption at rest, and importing JWT_PRIVATE_KEY or a legacy DATA_DIR key file.
import assert from 'node:assert/strict'
import { createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { calculateJwkThumbprint, decodeProtectedHeader, exportJWK } from 'jose'
import { buildApp } from '../src/app.ts'
import { SigningKeys } from '../src/auth/keys.ts'
import type { Config } from '../src/config.ts'
import { buildTestApp, registerAndLogin, testEngines } from './helpers.ts'

const kidOf = (token: string) => decodeProtectedHeader(token).kid
const SECRET = 'an encryption secret of at least thirty-two characters'

for (const engine of testEngines()) {
  describe(`signing keys (${engine})`, () => {
    it('rotation: new tokens use the new key, old tokens still verify, JWKS lists both, other instances follow', async () => {
      const t = await buildTestApp({}, {}, engine)
      const other = await buildApp(t.config, { backgroundJobs: false })
      try {
        const user = await registerAndLogin(t.app)
        const oldKid = kidOf(user.token)
        const keys = await SigningKeys.open({ database: t.app.database, accessTtlSeconds: 900 })
        const newKid = await keys.rotate()
        assert.notEqual(newKid, oldKid)
        // An instance started after the rotation signs with the new key…
        const third = await buildApp(t.config as Config, { backgroundJobs: false })
        try {
          const login = await third.inject({
            method: 'POST',
            url: '/v1/auth/login',
            payload: { email: user.email, password: 'correct horse battery staple' },
          })
          const fresh = (login.json() as { accessToken: string }).accessToken
          assert.equal(kidOf(fresh), newKid)
          // …and an instance that loaded its keys before it learns the new kid on first sight.
          for (const app of [other, t.app, third]) {
            for (const token of [fresh, user.token]) {
              const res = await app.inject({ url: '/v1/me', headers: { authorization: `Bearer ${token}` } })
              assert.equal(res.statusCode, 200)
            }
          }
          const jwks = (await third.inject({ url: '/.well-known/jwks.json' })).json() as {
            keys: { kid: string; d?: string }[]
          }
          assert.deepEqual(jwks.keys.map((k) => k.kid).sort(), [oldKid, newKid].sort())
          assert.ok(
            jwks.keys.every((k) => k.d === undefined),
            'no private parts in the JWKS',
          )
        } finally {
          await third.close()
        }
      } finally {
        await other.close()
        await t.close()
      }
    })

    it('a key retired longer ago than a token lives stops verifying and leaves the JWKS', async () => {
      const t = await buildTestApp({}, {}, engine)
      try {
        const user = await registerAndLogin(t.app)
        const oldKid = kidOf(user.token) as string
        await (await SigningKeys.open({ database: t.app.database, accessTtlSeconds: 900 })).rotate()
        await t.app.database.db
          .updateTable('signing_keys')
          .set({ retired_at: new Date(Date.now() - 86_400_000).toISOString() })
          .where('kid', '=', oldKid)
          .execute()
        const later = await buildApp(t.config, { backgroundJobs: false })
        try {
          const jwks = (await later.inject({ url: '/.well-known/jwks.json' })).json() as {
            keys: { kid: string }[]
          }
          assert.ok(!jwks.keys.some((k) => k.kid === oldKid))
          assert.equal((await later.inject({ url: '/v1/me', headers: user.auth })).statusCode, 401)
        } finally {
          await later.close()
        }
      } finally {
        await t.close()
      }
    })

    it('private parts are encrypted at rest with KEY_ENCRYPTION_SECRET, and cannot be used without it', async () => {
      const t = await buildTestApp({ KEY_ENCRYPTION_SECRET: SECRET }, {}, engine)
      try {
        const rows = await t.app.database.db.selectFrom('signing_keys').select('private_key').execute()
        assert.ok(rows.length > 0)
        for (const row of rows) {
          assert.match(row.private_key, /^aes256gcm\.v1\./)
          assert.ok(!row.private_key.includes('PRIVATE KEY'))
        }
        const user = await registerAndLogin(t.app)
        assert.equal((await t.app.inject({ url: '/v1/me', headers: user.auth })).statusCode, 200)
        const { KEY_ENCRYPTION_SECRET: _drop, ...withoutSecret } = t.config
        await assert.rejects(
          buildApp(withoutSecret as Config, { backgroundJobs: false }),
          /KEY_ENCRYPTION_SECRET/,
        )
        await assert.rejects(
          buildApp({ ...t.config, KEY_ENCRYPTION_SECRET: `${SECRET}-wrong` }, { backgroundJobs: false }),
          /cannot be decrypted/,
        )
      } finally {
        await t.close()
      }
    })

    it('plain keys are encrypted in place once a secret is configured', async () => {
      const t = await buildTestApp({}, {}, engine)
      try {
        const user = await registerAndLogin(t.app)
        const secured = await buildApp(
          { ...t.config, KEY_ENCRYPTION_SECRET: SECRET },
          { backgroundJobs: false },
        )
        try {
          const rows = await t.app.database.db.selectFrom('signing_keys').select('private_key').execute()
          for (const row of rows) assert.match(row.private_key, /^aes256gcm\.v1\./)
          assert.equal((await secured.inject({ url: '/v1/me', headers: user.auth })).statusCode, 200)
        } finally {
          await secured.close()
        }
      } finally {
        await t.close()
      }
    })

    it('JWT_PRIVATE_KEY is imported once and signs', async () => {
      const pem = generateKeyPairSync('ed25519')
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString()
      const t = await buildTestApp({ JWT_PRIVATE_KEY: pem }, {}, engine)
      try {
        const user = await registerAndLogin(t.app)
        const jwks = (await t.app.inject({ url: '/.well-known/jwks.json' })).json() as {
          keys: { kid: string }[]
        }
        assert.deepEqual(
          jwks.keys.map((k) => k.kid),
          [kidOf(user.token)],
        )
        // A rotation survives a restart with the same JWT_PRIVATE_KEY (the import happens once).
        const rotated = await (
          await SigningKeys.open({ database: t.app.database, accessTtlSeconds: 900 })
        ).rotate()
        const restarted = await buildApp(t.config, { backgroundJobs: false })
        try {
          const login = await restarted.inject({
            method: 'POST',
            url: '/v1/auth/login',
            payload: { email: user.email, password: 'correct horse battery staple' },
          })
          assert.equal(kidOf((login.json() as { accessToken: string }).accessToken), rotated)
        } finally {
          await restarted.close()
        }
      } finally {
        await t.close()
      }
    })
  })
}

describe('legacy key file', () => {
  it('a key generated into DATA_DIR by earlier versions is imported on first start and signs', async () => {
    const pem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
    const dataDir = mkdtempSync(join(tmpdir(), 'tt-legacy-'))
    writeFileSync(join(dataDir, 'jwt-signing-key.pem'), pem, { mode: 0o600 })
    const t = await buildTestApp({ DATA_DIR: dataDir })
    try {
      const user = await registerAndLogin(t.app)
      const expected = await calculateJwkThumbprint(await exportJWK(createPublicKey(createPrivateKey(pem))))
      assert.equal(kidOf(user.token), expected)
    } finally {
      await t.close()
      rmSync(dataDir, { recursive: true, force: true })
    }
  })
})

// Emails in Unicode Normalization Form C (RFC 6532 §3.1): an address typed with a precomposed
// letter and with a letter and a combining mark is one account, at registration and at login;
// migration 0008 puts the addresses stored before it in that form, leaving alone one whose
// normal form another account already holds.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Kysely } from 'kysely'
import { configFrom } from '../src/config.ts'
import { type Database, openDatabase } from '../src/db/database.ts'
import { migrateToLatest, migrateUpTo } from '../src/db/migrate.ts'
import { uuidv7 } from '../src/ids.ts'
import { buildTestApp, errorOf, freshPostgresSchema, PASSWORD, type TestApp, testEngines } from './helpers.ts'

const PRECOMPOSED = 'jos\u00e9' // é as one code point
const DECOMPOSED = 'jose\u0301' // e and a combining acute accent

for (const engine of testEngines()) {
  describe(`email normal form (${engine})`, () => {
    let t: TestApp
    before(async () => {
      t = await buildTestApp({}, {}, engine)
    })
    after(() => t.close())

    it('is one account however the accented letter is typed', async () => {
      const local = `${PRECOMPOSED}-${process.pid}-${Date.now()}`
      const register = (email: string) =>
        t.app.inject({
          method: 'POST',
          url: '/v1/auth/register',
          payload: { email, password: PASSWORD, name: 'José' },
        })
      const first = await register(`${local}@example.com`)
      assert.equal(first.statusCode, 201, first.body)
      const again = await register(`${local.replace(PRECOMPOSED, DECOMPOSED)}@EXAMPLE.com`)
      assert.equal(again.statusCode, 409, again.body)
      assert.equal(errorOf(again).code, 'EMAIL_TAKEN')
      const login = await t.app.inject({
        method: 'POST',
        url: '/v1/auth/login',
        payload: { email: `${local.replace(PRECOMPOSED, DECOMPOSED)}@example.com`, password: PASSWORD },
      })
      assert.equal(login.statusCode, 200, login.body)
      const me = await t.app.inject({
        url: '/v1/me',
        headers: { authorization: `Bearer ${login.json().accessToken}` },
      })
      assert.equal(me.json().email, `${local}@example.com`)
    })
  })

  describe(`email normal form upgrade (migration 0008, ${engine})`, () => {
    it('puts stored addresses in NFC unless another account holds that form', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'tt-email-upgrade-'))
      const pgSchema = engine === 'postgres' ? await freshPostgresSchema() : undefined
      const database: Database = openDatabase(
        configFrom({ DATA_DIR: dir, ...(pgSchema ? { DATABASE_URL: pgSchema.url } : {}) }),
      )
      try {
        await migrateUpTo(database, '0007-count-inserts')
        const db = database.db as unknown as Kysely<Record<string, Record<string, unknown>>>
        const now = '2026-01-02T03:04:05.678Z'
        const emails = {
          alone: `${DECOMPOSED}@example.com`,
          taken: `mu\u0308ller@example.com`,
          holder: `m\u00fcller@example.com`,
          ascii: 'plain@example.com',
        }
        const ids = Object.fromEntries(Object.keys(emails).map((k) => [k, uuidv7()]))
        // Creation order against id order: the holder registered first, with the larger id.
        const created: Record<string, string> = { holder: '2025-01-01T00:00:00.000Z' }
        for (const [key, email] of Object.entries(emails))
          await db
            .insertInto('users')
            .values({
              id: ids[key],
              email,
              name: key,
              role: 'user',
              created_at: created[key] ?? now,
              updated_at: now,
            })
            .execute()
        // One that becomes ASCII in NFC (U+037E GREEK QUESTION MARK is ";") and meets an ASCII address.
        const toAscii = { greek: 'a\u037eb@example.com', semicolon: 'a;b@example.com' }
        for (const [key, email] of Object.entries(toAscii)) {
          ids[key] = uuidv7()
          await db
            .insertInto('users')
            .values({ id: ids[key], email, name: key, role: 'user', created_at: now, updated_at: now })
            .execute()
        }
        assert.deepEqual(await migrateToLatest(database), ['0008-email-nfc'])
        const rows = await db.selectFrom('users').select(['id', 'email']).execute()
        const stored = Object.fromEntries(rows.map((r) => [r.id, r.email]))
        assert.deepEqual(stored, {
          [ids.alone as string]: `${PRECOMPOSED}@example.com`,
          [ids.taken as string]: emails.taken,
          [ids.holder as string]: emails.holder,
          [ids.ascii as string]: emails.ascii,
          [ids.greek as string]: toAscii.greek,
          [ids.semicolon as string]: toAscii.semicolon,
        })
        // The accounts left as registered are named in the audit log for an admin to settle.
        const unreachable = await db
          .selectFrom('audit_events')
          .select(['target_id', 'details'])
          .where('action', '=', 'user.email_unreachable')
          .execute()
        assert.deepEqual(unreachable.map((e) => e.target_id).sort(), [ids.greek, ids.taken].sort())
        assert.deepEqual(JSON.parse(String(unreachable.find((e) => e.target_id === ids.taken)?.details)), {
          email: emails.taken,
          heldBy: ids.holder,
        })
      } finally {
        await database.close()
        await pgSchema?.drop()
        rmSync(dir, { recursive: true, force: true })
      }
    })
  })
}

// Emails are compared in Unicode Normalization Form C from now on (RFC 6532 §3.1 asks for NFC
// in internationalised addresses): "josé" typed with a precomposed é and with e + a combining
// accent was two accounts that display alike. This puts the addresses already stored in NFC,
// so their owners, whose logins are now normalised, still find them, oldest account first.
//
// An address whose NFC form another account already holds cannot be changed (emails are
// unique), and merging two accounts is not a migration's to decide. Its account keeps the
// address it registered, but a login typed either way now reaches the other account: each such
// account is written to the audit log (`user.email_unreachable`, GET /v1/audit-events) for an
// admin to settle, for instance by giving the other account another address.
import { type Kysely, sql } from 'kysely'
import { uuidv7 } from '../../ids.ts'
import type { Engine } from '../database.ts'

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  // Only addresses outside ASCII can change (ASCII is NFC already), so only those are read;
  // what one changes into may be ASCII, so collisions are looked for among every address.
  const nonAscii = engine === 'postgres' ? sql`email ~ '[^\\x01-\\x7f]'` : sql`email GLOB '*[^ -~]*'`
  const { rows } = await sql<{ id: string; email: string }>`
    SELECT id, email FROM users WHERE ${nonAscii} ORDER BY created_at, id`.execute(db)
  for (const row of rows) {
    const normal = row.email.normalize('NFC')
    if (normal === row.email) continue
    const { rows: holders } = await sql<{ id: string }>`
      SELECT id FROM users WHERE email = ${normal} AND id <> ${row.id}`.execute(db)
    if (holders.length === 0) {
      await sql`UPDATE users SET email = ${normal} WHERE id = ${row.id}`.execute(db)
      continue
    }
    const details = JSON.stringify({ email: row.email, heldBy: holders[0]?.id })
    await sql`INSERT INTO audit_events (id, at, actor_id, action, target_type, target_id, details)
      VALUES (${uuidv7()}, ${new Date().toISOString()}, NULL, 'user.email_unreachable', 'user', ${row.id}, ${details})`.execute(
      db,
    )
  }
}

// Emails are compared in Unicode Normalization Form C from now on (RFC 6532 §3.1 asks for NFC
// in internationalised addresses): "josé" typed with a precomposed é and with e + a combining
// accent was two accounts that display alike. This puts the addresses already stored in NFC,
// so their owners, whose logins are now normalised, still find them. An address whose NFC form
// another account already holds is left as it is: merging two accounts is not a migration's to
// decide, and that account keeps the address it registered.
import { type Kysely, sql } from 'kysely'
import type { Engine } from '../database.ts'

export async function up(db: Kysely<unknown>, engine: Engine): Promise<void> {
  // Only addresses outside ASCII can change (ASCII is NFC already), so only those are read.
  const nonAscii = engine === 'postgres' ? sql`email ~ '[^\\x01-\\x7f]'` : sql`email GLOB '*[^ -~]*'`
  const { rows } = await sql<{
    id: string
    email: string
  }>`SELECT id, email FROM users WHERE ${nonAscii}`.execute(db)
  const taken = new Set(rows.map((row) => row.email))
  for (const row of rows) {
    const normal = row.email.normalize('NFC')
    if (normal === row.email || taken.has(normal)) continue
    taken.add(normal)
    await sql`UPDATE users SET email = ${normal} WHERE id = ${row.id}`.execute(db)
  }
}

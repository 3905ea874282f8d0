// Access-token signing keys, kept in the database so every instance of a
// deployment signs and verifies with the same set. The newest unretired key
// signs; retired keys keep verifying until every token they signed has expired.
// Private parts are encrypted at rest when KEY_ENCRYPTION_SECRET is set.
import {
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type JsonWebKey,
  type KeyObject,
} from 'node:crypto'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { calculateJwkThumbprint, exportJWK, importPKCS8, type JWK, type JWTHeaderParameters } from 'jose'
import type { Database } from '../db/database.ts'
import { toIso } from '../time.ts'
import { decryptPrivateKey, encryptPrivateKey, isEncrypted } from './key-encryption.ts'

export interface SigningKey {
  kid: string
  alg: 'EdDSA'
  privateKey: KeyObject
  publicJwk: JWK
}

/** The key file older versions generated into DATA_DIR; imported into the database once, never written. */
const LEGACY_KEY_FILE = 'jwt-signing-key.pem'
/** How long a retired key keeps verifying beyond the access-token lifetime (clock skew, slow reloads). */
const GRACE_SECONDS = 300
/** Instances pick up keys rotated elsewhere at least this often. */
const RELOAD_EVERY_MS = 60_000
/** An unknown kid reloads the keys at most this often, so forged kids cannot hammer the database. */
const UNKNOWN_KID_RELOAD_MS = 2_000

interface KeyRow {
  kid: string
  public_jwk: string
  private_key: string
  created_at: string | Date
  retired_at: string | Date | null
}

async function describe(pem: string): Promise<{ kid: string; publicJwk: JWK }> {
  // importPKCS8 validates that the PEM is an Ed25519 key usable for EdDSA.
  await importPKCS8(pem, 'EdDSA')
  const publicJwk = await exportJWK(createPublicKey(createPrivateKey(pem)))
  const kid = await calculateJwkThumbprint(publicJwk)
  return { kid, publicJwk: { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' } }
}

export function generatePem(): string {
  return generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
}

export class SigningKeys {
  readonly #database: Database
  readonly #secret: string | undefined
  readonly #verifyWindowMs: number
  #active: SigningKey | undefined
  #public = new Map<string, { jwk: JWK; key: KeyObject }>()
  #loadedAtMs = 0
  #lastUnknownKidReloadMs = 0
  #loading: Promise<void> | undefined

  private constructor(database: Database, secret: string | undefined, accessTtlSeconds: number) {
    this.#database = database
    this.#secret = secret
    this.#verifyWindowMs = (accessTtlSeconds + GRACE_SECONDS) * 1000
  }

  /**
   * Opens the key set: imports JWT_PRIVATE_KEY (or a legacy DATA_DIR key file) once,
   * makes sure an active key exists, encrypts plain rows when a secret is set, loads.
   */
  static async open(options: {
    database: Database
    secret?: string
    importPem?: string
    dataDir?: string
    accessTtlSeconds: number
  }): Promise<SigningKeys> {
    const keys = new SigningKeys(options.database, options.secret, options.accessTtlSeconds)
    const legacyFile = options.dataDir ? join(options.dataDir, LEGACY_KEY_FILE) : undefined
    const importPem =
      options.importPem ??
      (legacyFile && existsSync(legacyFile) ? readFileSync(legacyFile, 'utf8') : undefined)
    if (importPem) await keys.#import(importPem)
    await keys.#encryptPlainRows()
    await keys.#load()
    if (!keys.#active) {
      await keys.rotate()
    }
    return keys
  }

  get active(): SigningKey {
    if (!this.#active) throw new Error('No active signing key')
    return this.#active
  }

  /** Public keys of every key that may still have live tokens. */
  jwks(): { keys: JWK[] } {
    return { keys: [...this.#public.values()].map((k) => k.jwk) }
  }

  /** Creates a new active key and retires the others (they keep verifying until their tokens expire). */
  async rotate(): Promise<string> {
    const pem = generatePem()
    const kid = await this.#activate(pem)
    await this.#load()
    return kid
  }

  /** Reloads when the last load is older than RELOAD_EVERY_MS, so a key rotated elsewhere is used soon. */
  async refreshIfStale(): Promise<void> {
    if (Date.now() - this.#loadedAtMs > RELOAD_EVERY_MS) await this.#load()
  }

  /** jose key resolver: an unknown kid triggers one rate-limited reload before it is rejected. */
  readonly resolve = async (header: JWTHeaderParameters): Promise<KeyObject> => {
    const kid = header.kid
    if (typeof kid !== 'string') throw new Error('token has no kid')
    let found = this.#public.get(kid)
    const now = Date.now()
    if (!found && now - this.#lastUnknownKidReloadMs > UNKNOWN_KID_RELOAD_MS) {
      this.#lastUnknownKidReloadMs = now
      await this.#load()
      found = this.#public.get(kid)
    }
    if (!found) throw new Error('unknown kid')
    return found.key
  }

  #seal(pem: string): string {
    return this.#secret ? encryptPrivateKey(pem, this.#secret) : pem
  }

  async #import(pem: string): Promise<void> {
    const { kid } = await describe(pem)
    const exists = await this.#database.db
      .selectFrom('signing_keys')
      .select('kid')
      .where('kid', '=', kid)
      .executeTakeFirst()
    if (exists) return
    await this.#activate(pem)
  }

  /** Stores `pem` as the active key and retires the others, in one transaction; returns its kid. */
  async #activate(pem: string): Promise<string> {
    const { kid, publicJwk } = await describe(pem)
    const now = new Date().toISOString()
    await this.#database.db.transaction().execute(async (trx) => {
      await trx.updateTable('signing_keys').set({ retired_at: now }).where('retired_at', 'is', null).execute()
      await trx
        .insertInto('signing_keys')
        .values({
          kid,
          alg: 'EdDSA',
          public_jwk: JSON.stringify(publicJwk),
          private_key: this.#seal(pem),
          created_at: now,
          retired_at: null,
        })
        .onConflict((oc) => oc.column('kid').doNothing())
        .execute()
    })
    return kid
  }

  async #encryptPlainRows(): Promise<void> {
    const secret = this.#secret
    if (!secret) return
    const rows = await this.#database.db.selectFrom('signing_keys').select(['kid', 'private_key']).execute()
    for (const row of rows) {
      if (isEncrypted(row.private_key)) continue
      await this.#database.db
        .updateTable('signing_keys')
        .set({ private_key: encryptPrivateKey(row.private_key, secret) })
        .where('kid', '=', row.kid)
        .where('private_key', '=', row.private_key)
        .execute()
    }
  }

  #load(): Promise<void> {
    // One load at a time; concurrent callers share it.
    this.#loading ??= this.#loadNow().finally(() => {
      this.#loading = undefined
    })
    return this.#loading
  }

  async #loadNow(): Promise<void> {
    const rows: KeyRow[] = await this.#database.db
      .selectFrom('signing_keys')
      .select(['kid', 'public_jwk', 'private_key', 'created_at', 'retired_at'])
      .orderBy('created_at', 'desc')
      .orderBy('kid', 'desc')
      .execute()
    const now = Date.now()
    const publicKeys = new Map<string, { jwk: JWK; key: KeyObject }>()
    let active: KeyRow | undefined
    for (const row of rows) {
      const retiredAt = row.retired_at === null ? undefined : Date.parse(toIso(row.retired_at))
      if (retiredAt === undefined) active ??= row
      else if (now - retiredAt > this.#verifyWindowMs) continue
      const jwk = JSON.parse(row.public_jwk) as JWK
      publicKeys.set(row.kid, {
        jwk,
        key: createPublicKey({ key: jwk as JsonWebKey, format: 'jwk' }),
      })
    }
    if (active && active.kid !== this.#active?.kid) {
      const pem = decryptPrivateKey(active.private_key, this.#secret)
      const publicJwk = publicKeys.get(active.kid)?.jwk ?? {}
      this.#active = { kid: active.kid, alg: 'EdDSA', privateKey: createPrivateKey(pem), publicJwk }
    }
    this.#public = publicKeys
    this.#loadedAtMs = now
  }
}

// Envelope encryption of private signing keys at rest: AES-256-GCM with a key
// derived (scrypt, per-row salt) from KEY_ENCRYPTION_SECRET. Rows written without
// a secret are plain PEM; a deployment that sets a secret re-encrypts them at start.
import { createCipheriv, createDecipheriv, randomBytes, scryptSync } from 'node:crypto'

const PREFIX = 'aes256gcm.v1'
const SCRYPT = { N: 2 ** 14, r: 8, p: 1 } as const

function derive(secret: string, salt: Buffer): Buffer {
  return scryptSync(secret, salt, 32, SCRYPT)
}

export function isEncrypted(stored: string): boolean {
  return stored.startsWith(`${PREFIX}.`)
}

export function encryptPrivateKey(pem: string, secret: string): string {
  const salt = randomBytes(16)
  const iv = randomBytes(12)
  const cipher = createCipheriv('aes-256-gcm', derive(secret, salt), iv)
  const body = Buffer.concat([cipher.update(pem, 'utf8'), cipher.final()])
  return [PREFIX, salt, iv, cipher.getAuthTag(), body]
    .map((p) => (typeof p === 'string' ? p : p.toString('base64url')))
    .join('.')
}

export class KeyDecryptionError extends Error {}

export function decryptPrivateKey(stored: string, secret: string | undefined): string {
  if (!isEncrypted(stored)) return stored
  if (!secret) throw new KeyDecryptionError('Signing keys are encrypted: set KEY_ENCRYPTION_SECRET')
  const parts = stored.slice(PREFIX.length + 1).split('.')
  if (parts.length !== 4) throw new KeyDecryptionError('A stored signing key is corrupt')
  const [salt, iv, tag, body] = parts.map((p) => Buffer.from(p, 'base64url')) as [
    Buffer,
    Buffer,
    Buffer,
    Buffer,
  ]
  try {
    const decipher = createDecipheriv('aes-256-gcm', derive(secret, salt), iv)
    decipher.setAuthTag(tag)
    return Buffer.concat([decipher.update(body), decipher.final()]).toString('utf8')
  } catch {
    throw new KeyDecryptionError('A stored signing key cannot be decrypted with KEY_ENCRYPTION_SECRET')
  }
}

// The access-token signing key: Ed25519, supplied by JWT_PRIVATE_KEY or created
// on first start in DATA_DIR (mode 0600). The kid is the key's JWK thumbprint.
import { createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { calculateJwkThumbprint, exportJWK, importPKCS8, type JWK } from 'jose'

export interface SigningKey {
  kid: string
  alg: 'EdDSA'
  privateKey: KeyObject
  publicJwk: JWK
}

const KEY_FILE = 'jwt-signing-key.pem'

function loadOrCreatePem(dataDir: string): string {
  const path = join(dataDir, KEY_FILE)
  if (existsSync(path)) return readFileSync(path, 'utf8')
  mkdirSync(dataDir, { recursive: true })
  const { privateKey } = generateKeyPairSync('ed25519')
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  // 'wx' fails if another process created it first; then read theirs.
  try {
    writeFileSync(path, pem, { mode: 0o600, flag: 'wx' })
    return pem
  } catch {
    return readFileSync(path, 'utf8')
  }
}

export async function loadSigningKey(options: {
  privateKeyPem?: string
  dataDir: string
}): Promise<SigningKey> {
  const pem = options.privateKeyPem ?? loadOrCreatePem(options.dataDir)
  // importPKCS8 validates that the PEM is an Ed25519 key usable for EdDSA.
  await importPKCS8(pem, 'EdDSA')
  const privateKey = createPrivateKey(pem)
  const publicJwk = await exportJWK(createPublicKey(privateKey))
  const kid = await calculateJwkThumbprint(publicJwk)
  return { kid, alg: 'EdDSA', privateKey, publicJwk: { ...publicJwk, kid, alg: 'EdDSA', use: 'sig' } }
}

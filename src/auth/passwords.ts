// Password hashing with argon2id (node:crypto, OWASP's minimum parameters),
// stored in PHC string format so parameters can be raised later.
import { argon2, randomBytes, timingSafeEqual } from 'node:crypto'

const PARAMS = { memory: 19_456, passes: 2, parallelism: 1, tagLength: 32 } as const

function derive(
  password: string,
  salt: Buffer,
  p: { memory: number; passes: number; parallelism: number; tagLength: number },
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    argon2('argon2id', { message: password, nonce: salt, ...p }, (err, key) =>
      err ? reject(err) : resolve(key),
    )
  })
}

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const hash = await derive(password, salt, PARAMS)
  return `$argon2id$v=19$m=${PARAMS.memory},t=${PARAMS.passes},p=${PARAMS.parallelism}$${salt.toString('base64url')}$${hash.toString('base64url')}`
}

const PHC = /^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9_-]+)\$([A-Za-z0-9_-]+)$/

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const m = PHC.exec(stored)
  if (!m) return false
  const expected = Buffer.from(m[5] ?? '', 'base64url')
  const actual = await derive(password, Buffer.from(m[4] ?? '', 'base64url'), {
    memory: Number(m[1]),
    passes: Number(m[2]),
    parallelism: Number(m[3]),
    tagLength: expected.length,
  })
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}

/** A hash of a random password, verified against when the account does not exist so both paths cost the same. */
let dummyHash: Promise<string> | undefined
export function hashForMissingAccount(): Promise<string> {
  dummyHash ??= hashPassword(randomBytes(24).toString('base64url'))
  return dummyHash
}

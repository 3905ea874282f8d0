// The command-line tool: migrations, accounts and roles, signing-key rotation.
// Passwords come from TASK_TRACKER_PASSWORD or standard input, never from argv
// (argv is visible to every user of the machine through the process list).
import { parseArgs } from 'node:util'
import { AuditLog } from './audit/recorder.ts'
import { SigningKeys } from './auth/keys.ts'
import { ROLES, type Role } from './auth/scopes.ts'
import { AuthService } from './auth/service.ts'
import { LoginThrottle } from './auth/throttle.ts'
import { AccessTokens } from './auth/tokens.ts'
import { type Config, ConfigError, loadConfig, loadDotEnv } from './config.ts'
import { type Database, openDatabase } from './db/database.ts'
import { migrateToLatest } from './db/migrate.ts'
import { ApiError } from './errors.ts'
import { systemClock } from './time.ts'
import { UserService } from './users/service.ts'

const USAGE = `Usage: task-tracker <command>

Commands:
  migrate                                       apply database migrations
  user create --email E --name N [--role R]     create an account (password from
                                                TASK_TRACKER_PASSWORD or stdin)
  user set-role --email E --role R              set an account's role (user | admin)
  keys rotate                                   new signing key; old ones verify until
                                                their tokens expire
`

class UsageError extends Error {}

async function readPassword(): Promise<string> {
  const fromEnv = process.env.TASK_TRACKER_PASSWORD
  if (fromEnv) return fromEnv
  if (process.stdin.isTTY) return readHidden('Password: ')
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  // Only the first line, without its line ending (`echo secret | task-tracker …` adds one); spaces
  // at its end are part of the password, as they are through the API.
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0] ?? ''
}

/** A terminal's escape sequence: CSI (ESC [ … final byte), or ESC and one character. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching the terminal's ESC is the point
const ESCAPE_SEQUENCE = /\u001b\[[0-9;]*[A-Za-z~]|\u001b./g

/** Thrown when the person at the terminal cancels (Ctrl-C) the password prompt. */
class Cancelled extends Error {}

/**
 * Reads one line from the terminal without showing it: node:readline has no hidden input, so
 * the terminal is put in raw mode and the line assembled here (Enter ends it, Backspace erases,
 * Ctrl-C cancels).
 */
function readHidden(prompt: string): Promise<string> {
  const stdin = process.stdin
  // Raw (no echo) before the prompt shows: what is typed once it shows is never echoed.
  stdin.setRawMode(true)
  stdin.setEncoding('utf8')
  stdin.resume()
  process.stderr.write(prompt)
  return new Promise((resolve, reject) => {
    let line = ''
    const finish = (error?: Error) => {
      stdin.off('data', onData)
      stdin.off('end', onEnd)
      stdin.off('error', onEnd)
      stdin.setRawMode(false)
      stdin.pause()
      process.stderr.write('\n')
      if (error) reject(error)
      else resolve(line)
    }
    const onData = (chunk: string) => {
      // An escape sequence (an arrow key, a function key) is no part of a password.
      for (const char of chunk.replace(ESCAPE_SEQUENCE, '')) {
        if (char === '\r' || char === '\n') return finish()
        if (char === '\u0003') return finish(new Cancelled('cancelled'))
        // Ctrl-D ends input on an empty line only, as a shell's does.
        if (char === '\u0004') return line === '' ? finish(new Error('no password given')) : undefined
        if (char === '\u0015')
          line = '' // Ctrl-U erases the line
        else if (char === '\u007f' || char === '\b') line = [...line].slice(0, -1).join('')
        else if (char >= ' ') line += char // other control characters are not typed text
      }
    }
    const onEnd = () => finish(new Error('the terminal closed before a password was given'))
    stdin.on('data', onData)
    stdin.once('end', onEnd)
    stdin.once('error', onEnd)
  })
}

function roleOf(value: string | undefined): Role {
  if (value === undefined) return 'user'
  if (!(ROLES as readonly string[]).includes(value))
    throw new UsageError(`--role must be one of ${ROLES.join(', ')}`)
  return value as Role
}

function required(value: string | undefined, flag: string): string {
  if (!value) throw new UsageError(`${flag} is required`)
  return value
}

async function openKeys(database: Database, config: Config): Promise<SigningKeys> {
  return SigningKeys.open({
    database,
    secret: config.KEY_ENCRYPTION_SECRET,
    importPem: config.JWT_PRIVATE_KEY,
    dataDir: config.DATA_DIR,
    accessTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
  })
}

async function run(argv: string[], config: Config, out: (line: string) => void): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      email: { type: 'string' },
      name: { type: 'string' },
      role: { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  // One value each: `--name A --name B` is a mistake, not a choice of the last.
  for (const flag of ['email', 'name', 'role'] as const)
    if (argv.filter((arg) => arg === `--${flag}` || arg.startsWith(`--${flag}=`)).length > 1)
      throw new UsageError(`--${flag} given more than once`)
  const command = positionals.join(' ')
  if (values.help || command === '') {
    out(USAGE)
    return
  }
  if (!['migrate', 'user create', 'user set-role', 'keys rotate'].includes(command))
    throw new UsageError(`unknown command: ${command}`)

  const database = openDatabase(config)
  try {
    const applied = await migrateToLatest(database)
    const audit = new AuditLog(systemClock)
    if (command === 'migrate') {
      out(applied.length > 0 ? `applied: ${applied.join(', ')}` : 'database is up to date')
    } else if (command === 'user create') {
      const email = required(values.email, '--email')
      const name = required(values.name, '--name')
      const role = roleOf(values.role)
      const password = await readPassword()
      const keys = await openKeys(database, config)
      const tokens = new AccessTokens(
        {
          issuer: config.JWT_ISSUER,
          audience: config.JWT_AUDIENCE,
          accessTtlSeconds: config.ACCESS_TOKEN_TTL_SECONDS,
          recheckMs: 0,
        },
        keys,
        async () => undefined,
      )
      const auth = new AuthService({
        database,
        tokens,
        clock: systemClock,
        refreshTtlSeconds: config.REFRESH_TOKEN_TTL_SECONDS,
        audit,
        throttle: new LoginThrottle({ maxPerAccount: 1, maxPerAddress: 1, lockoutSeconds: 1 }, systemClock),
      })
      const user = await auth.register({ email, name, password }, undefined, role)
      out(`created ${user.role} ${user.email} (${user.id})`)
    } else if (command === 'user set-role') {
      const email = required(values.email, '--email')
      const role = roleOf(required(values.role, '--role'))
      const user = await new UserService({ database, audit, clock: systemClock }).setRole(email, role)
      out(`${user.email} is now ${user.role}`)
    } else {
      const keys = await openKeys(database, config)
      const kid = await keys.rotate()
      out(`new signing key ${kid}; previous keys verify until their tokens expire`)
    }
  } finally {
    await database.close()
  }
}

async function main(): Promise<void> {
  loadDotEnv()
  try {
    await run(process.argv.slice(2), loadConfig(), (line) => process.stdout.write(`${line}\n`))
  } catch (error) {
    if (error instanceof Cancelled) process.exit(130)
    // parseArgs' own refusals (an unknown option, an option without its value) are usage errors too.
    if (error instanceof UsageError || (error as { code?: string }).code?.startsWith('ERR_PARSE_ARGS_')) {
      process.stderr.write(`task-tracker: ${(error as Error).message}\n\n${USAGE}`)
      process.exit(64) // EX_USAGE
    }
    if (error instanceof ConfigError) {
      process.stderr.write(`task-tracker: ${error.message}\n`)
      process.exit(78) // EX_CONFIG
    }
    if (error instanceof ApiError) {
      const details = error.details?.map((d) => `${d.field} ${d.message}`).join('; ')
      process.stderr.write(`task-tracker: ${error.message}${details ? `: ${details}` : ''}\n`)
      process.exit(1)
    }
    process.stderr.write(`task-tracker: ${error instanceof Error ? error.message : String(error)}\n`)
    process.exit(1)
  }
}

await main()

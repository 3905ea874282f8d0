// The command-line tool, run as a real process against a real database.
import assert from 'node:assert/strict'
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { buildApp } from '../src/app.ts'
import { configFrom } from '../src/config.ts'
import { errorOf, freshPostgresSchema, PASSWORD, testEngines, uniqueEmail } from './helpers.ts'

for (const engine of testEngines()) {
  describe(`task-tracker command line (${engine})`, () => {
    it('migrates, creates an admin, changes roles and rotates keys', async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'tt-cli-'))
      const pg = engine === 'postgres' ? await freshPostgresSchema() : undefined
      const env: Record<string, string> = {
        PATH: process.env.PATH ?? '',
        DATA_DIR: dataDir,
        ...(pg ? { DATABASE_URL: pg.url } : {}),
      }
      const cli = (args: string[], extra: Record<string, string> = {}, input?: string) =>
        spawnSync(process.execPath, ['bin/task-tracker.js', ...args], {
          env: { ...env, ...extra },
          input,
          encoding: 'utf8',
        })
      try {
        const migrate = cli(['migrate'])
        assert.equal(migrate.status, 0, migrate.stderr)
        assert.match(migrate.stdout, /0002-auth/)

        const email = uniqueEmail('Admin')
        const created = cli(['user', 'create', '--email', email, '--name', 'Ada', '--role', 'admin'], {
          TASK_TRACKER_PASSWORD: PASSWORD,
        })
        assert.equal(created.status, 0, created.stderr)
        assert.match(created.stdout, /created admin/)
        const viaStdin = cli(
          ['user', 'create', '--email', uniqueEmail(), '--name', 'Bo'],
          {},
          `${PASSWORD}\n`,
        )
        assert.equal(viaStdin.status, 0, viaStdin.stderr)
        assert.match(viaStdin.stdout, /created user/)

        // Spaces at the end of a password read from stdin are part of it, as through the API.
        const spaced = uniqueEmail()
        assert.equal(
          cli(['user', 'create', '--email', spaced, '--name', 'Sp'], {}, `${PASSWORD}  \n`).status,
          0,
        )
        // Repeated or valueless options are usage errors (64) with the usage text.
        for (const args of [
          ['user', 'create', '--email', uniqueEmail(), '--name'],
          ['user', 'create', '--email', uniqueEmail(), '--name', 'A', '--name', 'B'],
        ]) {
          const bad = cli(args, { TASK_TRACKER_PASSWORD: PASSWORD })
          assert.equal(bad.status, 64, `${args.join(' ')}: ${bad.stderr}`)
          assert.match(bad.stderr, /usage/i)
        }
        assert.equal(cli(['-h']).status, 0)

        const short = cli(['user', 'create', '--email', uniqueEmail(), '--name', 'X'], {
          TASK_TRACKER_PASSWORD: 'short',
        })
        assert.equal(short.status, 1)
        assert.match(short.stderr, /password/)
        assert.ok(!short.stderr.includes('short\n'))
        assert.equal(
          cli(['user', 'create', '--email', 'a@b.co', '--name', 'X', '--password', 'x'.repeat(20)]).status,
          64,
        )
        const taken = cli(['user', 'create', '--email', email, '--name', 'Y'], {
          TASK_TRACKER_PASSWORD: PASSWORD,
        })
        assert.equal(taken.status, 1)

        const app = await buildApp(configFrom({ ...env, LOG_LEVEL: 'silent', CREDENTIAL_RECHECK_MS: 0 }), {
          backgroundJobs: false,
        })
        try {
          const login = await app.inject({
            method: 'POST',
            url: '/v1/auth/login',
            payload: { email, password: PASSWORD },
          })
          assert.equal(login.statusCode, 200)
          const withSpaces = await app.inject({
            method: 'POST',
            url: '/v1/auth/login',
            payload: { email: spaced, password: `${PASSWORD}  ` },
          })
          assert.equal(withSpaces.statusCode, 200, withSpaces.body)
          const auth = { authorization: `Bearer ${(login.json() as { accessToken: string }).accessToken}` }
          assert.equal((await app.inject({ url: '/v1/users', headers: auth })).statusCode, 200)

          const demoted = cli(['user', 'set-role', '--email', email.toUpperCase(), '--role', 'user'])
          assert.equal(demoted.status, 0, demoted.stderr)
          const denied = await app.inject({ url: '/v1/users', headers: auth })
          assert.equal(denied.statusCode, 403)
          assert.equal(errorOf(denied).code, 'FORBIDDEN')
          const changes = await app.database.db
            .selectFrom('audit_events')
            .selectAll()
            .where('action', '=', 'user.role_changed')
            .execute()
          assert.equal(changes.length, 1)
          assert.deepEqual(JSON.parse(changes[0]?.details ?? '{}'), { from: 'admin', to: 'user', via: 'cli' })

          const rotated = cli(['keys', 'rotate'])
          assert.equal(rotated.status, 0, rotated.stderr)
          const kid = /new signing key (\S+);/.exec(rotated.stdout)?.[1]
          const jwks = (await app.inject({ url: '/.well-known/jwks.json' })).json() as {
            keys: { kid: string }[]
          }
          // The running instance learns the new key when it first sees it; a fresh JWKS read after a restart lists both.
          const restarted = await buildApp(
            configFrom({ ...env, LOG_LEVEL: 'silent', CREDENTIAL_RECHECK_MS: 0 }),
            {
              backgroundJobs: false,
            },
          )
          try {
            const after = (await restarted.inject({ url: '/.well-known/jwks.json' })).json() as {
              keys: { kid: string }[]
            }
            assert.equal(after.keys.length, 2)
            assert.ok(after.keys.some((k) => k.kid === kid))
            assert.ok(jwks.keys.every((k) => after.keys.some((a) => a.kid === k.kid)))
            assert.equal((await restarted.inject({ url: '/v1/me', headers: auth })).statusCode, 200)
          } finally {
            await restarted.close()
          }
        } finally {
          await app.close()
        }
      } finally {
        await pg?.drop()
        rmSync(dataDir, { recursive: true, force: true })
      }
    })

    it('asks for a password on a terminal without showing it, and takes it on Enter', async (t) => {
      // A real terminal: util-linux's script(1) runs the tool on a pseudo-terminal (Linux only).
      if (process.platform !== 'linux' || spawnSync('script', ['--version']).status !== 0) {
        t.skip('script(1) from util-linux is not available: the terminal prompt is not exercised')
        return
      }
      const dataDir = mkdtempSync(join(tmpdir(), 'tt-cli-tty-'))
      const pg = engine === 'postgres' ? await freshPostgresSchema() : undefined
      try {
        const email = uniqueEmail('tty')
        const child = spawn(
          'script',
          [
            '-q',
            '-e',
            '-c',
            `${process.execPath} bin/task-tracker.js user create --email ${email} --name T`,
            '/dev/null',
          ],
          {
            env: { PATH: process.env.PATH ?? '', DATA_DIR: dataDir, ...(pg ? { DATABASE_URL: pg.url } : {}) },
          },
        )
        let output = ''
        child.stdout.on('data', (chunk: Buffer) => {
          output += chunk.toString('utf8')
          // Typed once the prompt shows (the terminal is then raw), then Enter.
          // An arrow key and a Ctrl-U (erasing what came before) are no part of it.
          if (output.includes('Password:') && !child.stdin.writableEnded)
            child.stdin.end(`oops\u0015${PASSWORD}\u001b[D\r`)
        })
        const status = await new Promise<number | null>((resolve) => child.on('close', resolve))
        assert.equal(status, 0, output)
        assert.match(output, /created user/)
        assert.ok(!output.includes(PASSWORD), `the password was shown: ${JSON.stringify(output)}`)
        // What was stored is the password as it reads on the screen, without the erased or escaped keys.
        const app = await buildApp(
          configFrom({ DATA_DIR: dataDir, LOG_LEVEL: 'silent', ...(pg ? { DATABASE_URL: pg.url } : {}) }),
          { backgroundJobs: false },
        )
        try {
          const login = await app.inject({
            method: 'POST',
            url: '/v1/auth/login',
            payload: { email, password: PASSWORD },
          })
          assert.equal(login.statusCode, 200, login.body)
        } finally {
          await app.close()
        }
      } finally {
        await pg?.drop()
        rmSync(dataDir, { recursive: true, force: true })
      }
    })
  })
}

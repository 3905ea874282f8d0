// Throwaway dependency servers for outage tests: a PostgreSQL cluster in a
// temporary directory and a redis-server on a spare port, started and stopped
// by the test itself. Everything started here is stopped at process exit too,
// so a failing test never leaves a server behind.
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

const cleanups = new Set<() => void>()
process.on('exit', () => {
  for (const cleanup of cleanups) cleanup()
})

/** A TCP port nobody listens on right now. */
export async function sparePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      const port = typeof address === 'object' && address ? address.port : 0
      server.close(() => resolve(port))
    })
  })
}

function postgresBinDir(): string {
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : []
  for (const v of versions) if (existsSync(join(root, v, 'bin', 'initdb'))) return join(root, v, 'bin')
  throw new Error('no PostgreSQL server binaries under /usr/lib/postgresql/*/bin')
}

export interface ThrowawayPostgres {
  url: string
  port: number
  stop(): Promise<void>
  start(): Promise<void>
  destroy(): Promise<void>
}

/**
 * initdb + pg_ctl in a temporary directory. initdb refuses to run as root, so as root the
 * directory is handed to the `postgres` user and the tools run through runuser.
 */
export async function startThrowawayPostgres(): Promise<ThrowawayPostgres> {
  const bin = postgresBinDir()
  const dir = mkdtempSync(join(tmpdir(), 'tt-pg-'))
  const data = join(dir, 'data')
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chownSync(dir, uid, gid)
    chmodSync(dir, 0o700)
  }
  const tool = (name: string, args: string[]) =>
    asRoot
      ? { cmd: 'runuser', args: ['-u', 'postgres', '--', join(bin, name), ...args] }
      : { cmd: join(bin, name), args }
  const run = (name: string, args: string[]) => {
    const { cmd, args: full } = tool(name, args)
    const result = spawnSync(cmd, full, { encoding: 'utf8', timeout: 60_000 })
    if (result.status !== 0) throw new Error(`${name} failed: ${result.stderr || result.stdout}`)
  }
  run('initdb', ['-D', data, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync', '--no-instructions'])
  const port = await sparePort()
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off`
  let running = false
  const start = async () => {
    run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'log'), '-w', '-t', '60', 'start'])
    running = true
  }
  const stopSync = () => {
    if (!running) return
    running = false
    const { cmd, args } = tool('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
    spawnSync(cmd, args, { timeout: 30_000 })
  }
  const destroy = () => {
    stopSync()
    rmSync(dir, { recursive: true, force: true })
    cleanups.delete(destroy)
  }
  cleanups.add(destroy)
  await start()
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    async stop() {
      // Fast shutdown: connected sessions get 57P01 (admin shutdown), new ones are refused.
      const { cmd, args } = tool('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop'])
      spawnSync(cmd, args, { timeout: 30_000 })
      running = false
    },
    async destroy() {
      destroy()
    },
  }
}

export interface ThrowawayRedis {
  url: string
  port: number
  stop(): Promise<void>
  start(): Promise<void>
  destroy(): Promise<void>
}

/**
 * `redis-server --port <spare> --save ''`: in memory only, gone without a trace when stopped.
 * With `password`, clients must AUTH with it (`--requirepass`); the URL carries no password.
 */
export async function startThrowawayRedis(options: { password?: string } = {}): Promise<ThrowawayRedis> {
  const port = await sparePort()
  let child: ChildProcess | undefined
  const kill = () => {
    child?.kill('SIGKILL')
    child = undefined
  }
  cleanups.add(kill)
  const start = async () => {
    const proc = spawn(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
        ...(options.password ? ['--requirepass', options.password] : []),
      ],
      {
        stdio: 'ignore',
      },
    )
    child = proc
    for (let i = 0; i < 100; i++) {
      const auth = options.password ? ['--no-auth-warning', '-a', options.password] : []
      const ping = spawnSync('redis-cli', ['-p', String(port), ...auth, 'ping'], { encoding: 'utf8' })
      if (ping.stdout.includes('PONG')) return
      if (proc.exitCode !== null) throw new Error(`redis-server exited with ${proc.exitCode}`)
      await sleep(50)
    }
    throw new Error('redis-server did not answer')
  }
  const stop = async () => {
    const proc = child
    child = undefined
    if (!proc || proc.exitCode !== null) return
    const exited = new Promise((resolve) => proc.once('exit', resolve))
    proc.kill('SIGTERM')
    await exited
  }
  await start()
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    start,
    stop,
    async destroy() {
      await stop()
      cleanups.delete(kill)
    },
  }
}

// End to end: the service started as `npm start` starts it gives back the memory of a
// password check. Each login runs argon2id with 19 MiB of memory (src/auth/passwords.ts) on a
// libuv thread. By default glibc serves a block that large from mmap only until the first one is
// freed; it then raises its mmap threshold to the block's size, so every later check's block
// comes from a malloc arena and stays resident when freed: a few logins left the process 20–40
// MB larger for good. The start script fixes the thresholds (MALLOC_MMAP_THRESHOLD_,
// MALLOC_TRIM_THRESHOLD_), so each check's block is mapped and unmapped. Linux with glibc only:
// resident memory is read from /proc, and other C libraries ignore these variables.
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { cleanupAll, freePort, npmStart, ROOT, startNode } from '../bench/processes.ts'

/** Node's report names the glibc it runs on; none on macOS or with musl. */
const report = process.report.getReport() as { header?: { glibcVersionRuntime?: string } }
const glibc = existsSync('/proc/self/status') && report.header?.glibcVersionRuntime !== undefined
const PASSWORD = 'correct horse battery staple'

const residentMb = (pid: number) =>
  Number(/^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024

describe('npm start and the memory of password checks', { skip: !glibc && 'needs Linux with glibc' }, () => {
  const dir = glibc ? mkdtempSync(join(tmpdir(), 'tt-start-memory-')) : ''
  after(async () => {
    await cleanupAll()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  it('holds no more memory after a burst of logins than before them', async () => {
    const start = npmStart()
    const port = await freePort()
    const service = await startNode({
      name: 'service',
      args: [...start.flags, join(ROOT, start.entry)],
      env: {
        ...start.env,
        PORT: String(port),
        HOST: '127.0.0.1',
        DATA_DIR: join(dir, 'data'),
        LOG_LEVEL: 'warn',
        RATE_LIMIT_AUTH_PER_MINUTE: '0',
      },
      port,
      logFile: join(dir, 'service.log'),
      cwd: dir,
      healthPath: '/ready',
    })
    const post = (path: string, body: unknown) =>
      fetch(`${service.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      })
    const account = { email: 'memory@example.com', password: PASSWORD }
    // Registering checks one password (its hash), the first block of that size.
    assert.equal((await post('/v1/auth/register', { ...account, name: 'Memory' })).status, 201)
    const before = residentMb(service.pid)
    const login = async () => assert.equal((await post('/v1/auth/login', account)).status, 200)
    for (let i = 0; i < 8; i++) await login()
    await Promise.all([login(), login(), login(), login()])
    const grown = residentMb(service.pid) - before
    // Without the thresholds it grew by 19–20 MB after the 8 logins and 39 MB after all 12.
    assert.ok(
      grown < 10,
      `${grown.toFixed(1)} MB more resident after 12 logins (${before.toFixed(0)} MB before)`,
    )
    await service.stop()
  })
})

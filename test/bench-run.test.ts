// `npm run bench` end to end, small and gentle (no speed is asserted): a run seeds, measures
// the service and its floors, writes its JSON record and leaves nothing behind; a run
// interrupted with Ctrl-C (SIGINT) stops everything it started too: the service, the floor,
// its temporary directory and, on PostgreSQL, its throwaway schema; so does the reaper of a
// run killed outright (SIGKILL).
import assert from 'node:assert/strict'
import { type ChildProcess, spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import { testEngines } from './helpers.ts'

const ROOT = join(import.meta.dirname, '..')
/** Small data, short runs and few connections: this runs beside the other suites. */
const SMALL = ['--tasks', '300', '--users', '5', '--warmup', '0', '--rounds', '1', '--connections', '4']

interface Run {
  child: ChildProcess
  output: () => string
  exited: Promise<number | null>
}

/** Kills whatever is left of a run's process tree (after a failed assertion). */
function killTree(run: Run) {
  try {
    if (run.child.pid) process.kill(-run.child.pid, 'SIGKILL')
  } catch {
    // already gone
  }
}

function startBench(args: string[], databaseUrl: string | undefined, script = 'bench/run.ts'): Run {
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.DATABASE_URL
  if (databaseUrl) env.DATABASE_URL = databaseUrl
  // A process group of its own: a test can signal the whole tree, as a terminal's Ctrl-C does,
  // and a failed test can kill all of it, not only the first process.
  const child = spawn(process.execPath, [script, ...args], { cwd: ROOT, env, detached: true })
  let text = ''
  child.stdout?.on('data', (chunk) => {
    text += String(chunk)
  })
  child.stderr?.on('data', (chunk) => {
    text += String(chunk)
  })
  // Once its output has closed too: the run's reaper holds its stderr until it has finished.
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  return { child, output: () => text, exited }
}

/** Waits until the run has started the measured service (its pid is printed just before the load). */
async function serviceMeasured(run: Run) {
  for (let waited = 0; !/service pid \d+/.test(run.output()); waited += 100) {
    if (waited > 90_000 || run.child.exitCode !== null) assert.fail(`never started:\n${run.output()}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

/** Once the run's service has been under load for a moment, `send`s the run a stop; answers its exit code. */
async function stopUnderLoad(run: Run, send: (run: Run) => void): Promise<number | null> {
  await serviceMeasured(run)
  await new Promise((r) => setTimeout(r, 1500))
  send(run)
  return run.exited
}

/** What the run said it started: its temporary directory or schema, and the two servers' pids. */
function startedBy(output: string) {
  const dir = /engine: SQLite in (\S+)/.exec(output)?.[1]
  const schema = /throwaway schema (\S+)/.exec(output)?.[1]
  const pids = /service pid (\d+) .* floor pid (\d+)/.exec(output)
  return { dir, schema, servicePid: Number(pids?.[1]), floorPid: Number(pids?.[2]) }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  // A zombie has ended: its parent (init, once the run that started it was killed) has yet to reap it.
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))
  } catch {
    return process.platform !== 'linux'
  }
}

async function schemaExists(schema: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL })
  await client.connect()
  try {
    const { rows } = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [schema])
    return rows.length > 0
  } finally {
    await client.end()
  }
}

async function assertNothingLeft(output: string, engine: string) {
  const started = startedBy(output)
  assert.ok(started.servicePid > 0 && started.floorPid > 0, output)
  assert.equal(alive(started.servicePid), false, 'the service is still running')
  assert.equal(alive(started.floorPid), false, 'the floor is still running')
  if (engine === 'sqlite') {
    assert.ok(started.dir, output)
    assert.equal(existsSync(started.dir), false, `${started.dir} is still there`)
  } else {
    assert.ok(started.schema, output)
    assert.equal(await schemaExists(started.schema), false, `schema ${started.schema} is still there`)
  }
}

describe('npm run bench with a PostgreSQL that cannot be reached', () => {
  it('fails at once, with nothing created and nothing left for its reaper', async () => {
    // Port 1 on this machine: the connection is refused (no server is needed for this test).
    const run = startBench([...SMALL, '--duration', '1'], 'postgres://postgres@127.0.0.1:1/test')
    const code = await run.exited
    assert.equal(code, 1, run.output())
    assert.match(run.output(), /ECONNREFUSED/)
    assert.doesNotMatch(run.output(), /cleanup "drop schema/, 'no drop of a schema never created')
    assert.doesNotMatch(run.output(), /bench \(reaper\)/, 'the run undid everything itself')
  })
})

for (const engine of testEngines()) {
  const databaseUrl = engine === 'postgres' ? process.env.TEST_DATABASE_URL : undefined

  describe(`npm run bench (${engine})`, () => {
    // Made in a hook, not when the suite is declared: a run that filters its tests out skips
    // the hooks too, and would leave the folder behind.
    let outDir = ''
    before(() => {
      outDir = mkdtempSync(join(tmpdir(), 'tt-bench-test-'))
    })
    after(() => rmSync(outDir, { recursive: true, force: true }))

    it('measures the service against its floors, writes the record and stops everything', async () => {
      const out = join(outDir, 'result.json')
      // 120 tasks: fewer than two pages of 100, which the deep scenario must still find pages past.
      // A warm-up: it stops with a PATCH in flight on every connection, whose tasks' ETags are
      // then unknown, and the measured PATCHes must still all succeed.
      const run = startBench(
        [
          ...SMALL,
          ...['--tasks', '120', '--warmup', '0.5', '--duration', '1'],
          ...['--only', 'get,list,deep,search,create,patch', '--out', out],
        ],
        databaseUrl,
      )
      const code = await run.exited
      assert.equal(code, 0, run.output())
      const record = JSON.parse(readFileSync(out, 'utf8')) as {
        engine: string
        sizes: { tasks: number; users: number }
        options: { rounds: number; only: string[] }
        machine: { cores: number }
        versions: { node: string }
        scenarios: {
          scenario: string
          rps: number
          errors: number
          ratio?: number
          naiveRatio?: number
          cpuMsPerRequest?: number
          dbCpuMsPerRequest?: number
          searchCache?: { hits: number; misses: number }
        }[]
        checks: { target: string; ok: boolean }[]
      }
      assert.equal(record.engine, engine)
      assert.deepEqual(record.sizes.tasks, 120)
      assert.deepEqual(
        [record.options.rounds, record.options.only],
        [1, ['get', 'list', 'deep', 'search', 'create', 'patch']],
      )
      assert.ok(record.machine.cores >= 1 && record.versions.node)
      const byName = new Map(record.scenarios.map((s) => [s.scenario, s]))
      for (const name of [
        'get',
        'floor-get',
        'list',
        'floor-list',
        'floor-naive',
        'deep',
        'search',
        'create',
        'patch',
      ]) {
        const row = byName.get(name)
        assert.ok(row, `no ${name} row in ${JSON.stringify(record.scenarios)}`)
        assert.ok(row.rps > 0, `${name}: no requests answered`)
        // Every request a scenario sends is one the service must answer with a 2xx.
        assert.equal(row.errors, 0, `${name}: ${row.errors} errors`)
      }
      // CPU per request, from /proc: the service's and the floor's, and PostgreSQL's own.
      for (const name of ['get', 'floor-get', 'create']) {
        const row = byName.get(name)
        assert.ok((row?.cpuMsPerRequest ?? 0) > 0, `${name}: no CPU per request in ${JSON.stringify(row)}`)
        if (engine === 'postgres')
          assert.ok((row?.dbCpuMsPerRequest ?? 0) > 0, `${name}: no PostgreSQL CPU in ${JSON.stringify(row)}`)
        else assert.equal(row?.dbCpuMsPerRequest, undefined)
      }
      // Every search was looked up in the service's result cache, and the run says how many it answered.
      const cache = byName.get('search')?.searchCache
      assert.ok(cache && cache.hits + cache.misses > 0, JSON.stringify(cache))
      assert.equal(byName.get('get')?.searchCache?.hits ?? 0, 0)
      assert.match(
        run.output(),
        /searches answered by the service's result cache, warm-up included: search [\d,]+ of [\d,]+/,
      )
      assert.match(run.output(), /CPU ms\/req/)
      assert.ok((byName.get('get')?.ratio ?? 0) > 0)
      assert.ok((byName.get('list')?.naiveRatio ?? 0) > 0)
      assert.ok(record.checks.some((c) => c.target.startsWith('zero errors')))
      assert.match(run.output(), /targets \(issue 6\)/)
      await assertNothingLeft(run.output(), engine)
      assert.doesNotMatch(run.output(), /bench \(reaper\)/, 'the run undid everything itself')
    })

    it('stops everything it started when interrupted with Ctrl-C', async () => {
      const run = startBench([...SMALL, '--duration', '60', '--only', 'get'], databaseUrl)
      try {
        const code = await stopUnderLoad(run, (r) => r.child.kill('SIGINT'))
        assert.equal(code, 130, run.output())
        assert.match(run.output(), /SIGINT: stopping everything it started/)
        await assertNothingLeft(run.output(), engine)
        assert.doesNotMatch(run.output(), /bench \(reaper\)/, 'the run undid everything itself')
      } finally {
        // A failed assertion must not leave a 60-second run behind.
        killTree(run)
      }
    })

    it('leaves nothing behind when the run itself is killed outright (SIGKILL)', async () => {
      const run = startBench([...SMALL, '--duration', '60', '--only', 'get'], databaseUrl)
      try {
        // The run alone, as the OOM killer would: its servers are not in the signal's way. Once it
        // has exited, its reaper has finished too: it holds the run's stderr until then.
        await stopUnderLoad(run, (r) => r.child.kill('SIGKILL'))
        assert.match(run.output(), /bench \(reaper\): removed \S+tt-bench-/)
        const started = startedBy(run.output())
        assert.match(run.output(), new RegExp(`stopped service \\(pid ${started.servicePid}\\)`))
        assert.match(run.output(), new RegExp(`stopped floor \\(pid ${started.floorPid}\\)`))
        if (engine === 'postgres') assert.match(run.output(), /dropped schema bench_/)
        await assertNothingLeft(run.output(), engine)
      } finally {
        killTree(run)
      }
    })

    it('stops everything it started when its output is closed (npm run bench | head)', async () => {
      const run = startBench([...SMALL, '--duration', '2', '--only', 'get,list'], databaseUrl)
      try {
        await serviceMeasured(run)
        // As head does once it has its lines: the next line the run prints (the list's) fails.
        run.child.stdout?.destroy()
        const code = await run.exited
        assert.equal(code, 141, run.output())
        assert.match(run.output(), /output closed: stopping everything it started/)
        await assertNothingLeft(run.output(), engine)
      } finally {
        killTree(run)
      }
    })
  })

  describe(`npm run bench:scale (${engine})`, () => {
    // Made in a hook, not when the suite is declared: a run that filters its tests out skips
    // the hooks too, and would leave the folder behind.
    let outDir = ''
    before(() => {
      outDir = mkdtempSync(join(tmpdir(), 'tt-bench-scale-test-'))
    })
    after(() => rmSync(outDir, { recursive: true, force: true }))
    const SCALE = ['--users', '5', '--warmup', '0', '--rounds', '1', '--connections', '4']

    it('runs the list at both sizes, each on its own data, and compares their p50s', async () => {
      const out = join(outDir, 'scale.json')
      const run = startBench(
        [...SCALE, '--duration', '1', '--small', '300', '--large', '1500', '--out', out],
        databaseUrl,
        'bench/scale.ts',
      )
      const code = await run.exited
      assert.equal(code, 0, run.output())
      const record = JSON.parse(readFileSync(out, 'utf8')) as {
        engine: string
        verdict: string
        sizes: { tasks: number; p50ms: number; rps: number; errors: number; record: string }[]
      }
      assert.equal(record.engine, engine)
      assert.deepEqual(
        record.sizes.map((s) => s.tasks),
        [300, 1500],
      )
      // Each size's figures are its own run's: that run's record, for that many tasks.
      for (const size of record.sizes) {
        assert.equal(size.record, join(outDir, `scale-${size.tasks}.json`))
        const own = JSON.parse(readFileSync(size.record, 'utf8')) as {
          sizes: { tasks: number }
          scenarios: { scenario: string; p50ms: number; rps: number }[]
        }
        assert.equal(own.sizes.tasks, size.tasks)
        const list = own.scenarios.find((s) => s.scenario === 'list')
        assert.deepEqual([size.p50ms, size.rps], [list?.p50ms, list?.rps])
        assert.ok(size.rps > 0 && size.errors === 0, JSON.stringify(size))
      }
      const verdictLine =
        /(PASS|MISS|UNSURE) +list p50 at 1,500 tasks ≤ 2 × at 300: \d+\.\d\d× \(whole-ms/.exec(run.output())
      assert.equal(verdictLine?.[1], record.verdict, run.output())
      // Two runs, each on data of its own that it seeded and then removed, with its own servers.
      const parts = run
        .output()
        .split(/bench:scale: [\d,]+ tasks/)
        .slice(1)
      assert.equal(parts.length, 2, run.output())
      for (const part of parts) await assertNothingLeft(part, engine)
      const [first, second] = parts.map((part) => startedBy(part))
      assert.notEqual(first?.dir ?? first?.schema, second?.dir ?? second?.schema)
    })

    const stops = [
      {
        how: 'on Ctrl-C sent to bench/scale.ts alone',
        send: (run: Run) => run.child.kill('SIGINT'),
        code: 130,
        said: /SIGINT: stopping everything it started/,
      },
      {
        how: 'on Ctrl-C sent to the whole process group, as a terminal does',
        send: (run: Run) => process.kill(-(run.child.pid as number), 'SIGINT'),
        code: 130,
        said: /SIGINT: stopping everything it started/,
      },
      {
        // Its reaper stops the run as Ctrl-C would, and the run undoes what it started itself.
        how: 'when it is killed outright (SIGKILL), through its reaper',
        send: (run: Run) => run.child.kill('SIGKILL'),
        code: null,
        said: /SIGTERM: stopping everything it started[\s\S]*bench \(reaper\): stopped the run at 300 tasks \(pid \d+\)/,
      },
    ]
    for (const stop of stops) {
      it(`stops the run in progress, and everything it started, ${stop.how}`, async () => {
        const run = startBench(
          [
            ...SCALE,
            '--duration',
            '60',
            '--small',
            '300',
            '--large',
            '1500',
            '--out',
            join(outDir, 'stopped.json'),
          ],
          databaseUrl,
          'bench/scale.ts',
        )
        try {
          const code = await stopUnderLoad(run, stop.send)
          assert.equal(code, stop.code, run.output())
          assert.match(run.output(), stop.said)
          await assertNothingLeft(run.output(), engine)
          assert.doesNotMatch(run.output(), /bench:scale: 1,500 tasks/, 'the second size did not start')
        } finally {
          killTree(run)
        }
      })
    }
  })
}

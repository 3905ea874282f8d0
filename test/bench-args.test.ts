// The bench harness refuses bad flags with a usage message instead of running
// a different benchmark than the one asked for.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { parseBenchArgs, UsageError } from '../bench/args.ts'

describe('bench flags', () => {
  it('defaults to 1,000 users, 100,000 tasks, 10 s runs and 32 connections', () => {
    assert.deepEqual(parseBenchArgs([]), {
      tasks: 100_000,
      users: 1000,
      duration: 10,
      warmup: 2,
      rounds: 3,
      connections: 32,
      quick: false,
      cpuProf: false,
      only: undefined,
      out: undefined,
    })
  })

  it('--quick shrinks the data and the runs; explicit flags still win', () => {
    const quick = parseBenchArgs(['--quick', '--tasks', '500'])
    assert.ok(quick !== 'help')
    assert.equal(quick.tasks, 500)
    assert.equal(quick.users, 50)
    assert.equal(quick.duration, 2)
    assert.equal(quick.rounds, 1)
  })

  for (const bad of [
    ['--tasks', 'many'],
    ['--tasks', '10.5'],
    ['--duration', '0'],
    ['--connections', '-1'],
    ['--only', 'get,everything'],
    ['--frobnicate'],
    ['extra'],
    ['--tasks'],
    // Number('') is 0: an empty value must not start a run with no warm-up.
    ['--warmup='],
    ['--duration', ' '],
    // The record is JSON; a directory or another kind of file is found out before the run, not after.
    ['--out', 'result.txt'],
    ['--out', 'bench/results/'],
  ]) {
    it(`refuses ${bad.join(' ')}`, () => {
      assert.throws(() => parseBenchArgs(bad), UsageError)
    })
  }

  it('exits non-zero with the usage message, before starting anything', () => {
    const run = spawnSync(process.execPath, ['bench/run.ts', '--tasks', 'lots'], { encoding: 'utf8' })
    assert.equal(run.status, 2)
    assert.match(run.stderr, /--tasks must be an integer/)
    assert.match(run.stderr, /Usage: npm run bench/)
  })

  it('refuses an --out it could not write before seeding anything, not after the run', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tt-bench-out-'))
    try {
      mkdirSync(join(dir, 'taken.json'))
      const env = { ...process.env }
      delete env.DATABASE_URL
      // Small and local, should the check not hold.
      const small = ['--tasks', '100', '--users', '2', '--duration', '1', '--warmup', '0', '--only', 'get']
      const run = spawnSync(process.execPath, ['bench/run.ts', ...small, '--out', join(dir, 'taken.json')], {
        encoding: 'utf8',
        env,
        timeout: 60_000,
      })
      assert.equal(run.status, 2, run.stderr)
      assert.match(run.stderr, /taken\.json is a directory/)
      assert.match(run.stderr, /Usage: npm run bench/)
      assert.doesNotMatch(run.stdout, /seeding/)
      // bench:scale too, before its first size is seeded rather than after both.
      const scale = spawnSync(
        process.execPath,
        [
          'bench/scale.ts',
          '--small',
          '100',
          '--large',
          '150',
          '--duration',
          '1',
          '--out',
          join(dir, 'taken.json'),
        ],
        { encoding: 'utf8', env, timeout: 60_000 },
      )
      assert.equal(scale.status, 2, scale.stderr)
      assert.match(scale.stderr, /taken\.json is a directory/)
      assert.match(scale.stderr, /Usage: npm run bench:scale/)
      assert.equal(scale.stdout, '', 'nothing ran')
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it('bench:scale refuses bad sizes and flags it sets itself, before seeding anything', () => {
    // Small sizes and no database: should a bad flag get through, the run stays small and local.
    const env = { ...process.env }
    delete env.DATABASE_URL
    const sizes = ['--small', '300', '--large', '1500']
    for (const [args, message] of [
      [['--small', '200', '--large', '100'], /--large \(100\) must be more tasks than --small \(200\)/],
      [['--small', '300', '--large', '300'], /--large \(300\) must be more tasks than --small \(300\)/],
      [['--small', '300', '--large', '50'], /--large must be an integer ≥ 100, got "50"/],
      [['--small', 'abc', '--large', '1500'], /--small must be an integer ≥ 100, got "abc"/],
      [[...sizes, '--users=-5'], /--users must be an integer ≥ 2, got "-5"/],
      [[...sizes, '--only', 'get'], /Unknown option '--only'/],
      [[...sizes, '--tasks', '5000'], /Unknown option '--tasks'/],
      [[...sizes, '--duration', '0'], /--duration must be a number ≥ 1/],
      [[...sizes, '--out', 'somewhere/'], /--out must name a \.json file, got "somewhere\/"/],
      [[...sizes, 'extra'], /unexpected argument "extra"/],
    ] as const) {
      const run = spawnSync(process.execPath, ['bench/scale.ts', ...args], {
        encoding: 'utf8',
        env,
        timeout: 10_000,
      })
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`)
      assert.match(run.stderr, message)
      assert.match(run.stderr, /Usage: npm run bench:scale/)
      assert.equal(run.stdout, '', 'nothing ran')
    }
    const help = spawnSync(process.execPath, ['bench/scale.ts', '-h'], {
      encoding: 'utf8',
      env,
      timeout: 10_000,
    })
    assert.equal(help.status, 0)
    assert.match(help.stdout, /Usage: npm run bench:scale/)
  })
})

// The bench harness refuses bad flags with a usage message instead of running
// a different benchmark than the one asked for.
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
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

  it('bench:scale refuses bad sizes and flags it sets itself, before seeding anything', () => {
    for (const [args, message] of [
      [['--small', '200', '--large', '100'], /--large \(100\) must be more tasks than --small \(200\)/],
      [['--large', '50'], /--tasks must be an integer ≥ 100, got "50"/],
      [['--only', 'get'], /Unknown option '--only'/],
      [['--tasks', '5000'], /Unknown option '--tasks'/],
      [['--duration', '0'], /--duration must be a number ≥ 1/],
    ] as const) {
      const run = spawnSync(process.execPath, ['bench/scale.ts', ...args], { encoding: 'utf8' })
      assert.equal(run.status, 2, `${args.join(' ')}: ${run.stderr}`)
      assert.match(run.stderr, message)
      assert.match(run.stderr, /Usage: npm run bench:scale/)
      assert.equal(run.stdout, '', 'nothing ran')
    }
  })
})

// `npm test`: the type check, the linter/formatter check, then every test suite.
// Suites that need PostgreSQL or Redis run only when TEST_DATABASE_URL /
// TEST_REDIS_URL are set (CI sets both); otherwise one line names what was left out.
import { spawnSync } from 'node:child_process'
import { globSync } from 'node:fs'

function run(command: string, args: string[]): number {
  const result = spawnSync(command, args, { stdio: 'inherit', env: process.env })
  return result.status ?? 1
}

const bin = (name: string) => `node_modules/.bin/${name}`

if (run(bin('tsc'), ['--noEmit', '-p', '.']) !== 0) {
  console.error('npm test: the type check failed')
  process.exit(1)
}
if (run(bin('biome'), ['check', '.']) !== 0) {
  console.error('npm test: the lint/format check failed (npm run format fixes formatting)')
  process.exit(1)
}

const all = [...globSync('src/**/*.test.ts'), ...globSync('test/**/*.test.ts')].sort()
const hasPostgres = Boolean(process.env.TEST_DATABASE_URL)
const hasRedis = Boolean(process.env.TEST_REDIS_URL)
const needsPostgres = (f: string) => /\.(postgres|multi)\.test\.ts$/.test(f)
const needsRedis = (f: string) => /\.(redis|multi)\.test\.ts$/.test(f)
const files = all.filter((f) => (!needsPostgres(f) || hasPostgres) && (!needsRedis(f) || hasRedis))
const left: string[] = []
if (!hasPostgres)
  left.push(
    'the PostgreSQL runs of every engine-parametrised suite and *.postgres/*.multi suites (set TEST_DATABASE_URL=postgres://…)',
  )
if (!hasRedis) left.push('the *.redis/*.multi suites (set TEST_REDIS_URL=redis://…)')
if (left.length > 0) console.log(`npm test: left out ${left.join('; ')}`)

if (files.length === 0) {
  console.error('npm test: found no test files')
  process.exit(1)
}
const extra = process.argv.slice(2)
process.exit(
  run(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=120000', ...extra, ...files]),
)

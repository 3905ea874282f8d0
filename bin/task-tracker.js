#!/usr/bin/env node
// Runs src/cli.ts on the project's pinned Node (node_modules/.bin/node, Node 24):
// the system node may be older and cannot run TypeScript or node:sqlite.
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const pinned = join(root, 'node_modules', '.bin', process.platform === 'win32' ? 'node.cmd' : 'node')
const node = existsSync(pinned) ? pinned : process.execPath
const result = spawnSync(node, [join(root, 'src', 'cli.ts'), ...process.argv.slice(2)], { stdio: 'inherit' })
if (result.error) {
  process.stderr.write(`task-tracker: ${result.error.message}\n`)
  process.exit(1)
}
process.exit(result.status ?? 1)

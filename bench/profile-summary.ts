// Summarises a V8 .cpuprofile (from `npm run bench -- --cpu-prof`): self time
// by function and by package/file, so the hot path can be read without DevTools.
// Usage: node bench/profile-summary.ts <file.cpuprofile> [top=40]
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

// Piped into `head`: a closed stdout ends the summary quietly.
process.stdout.on('error', () => process.exit(0))
const [file, topArg] = process.argv.slice(2)
if (!file) {
  process.stderr.write('usage: node bench/profile-summary.ts <file.cpuprofile> [top]\n')
  process.exit(2)
}
const top = Number(topArg ?? 40)
const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile
const byId = new Map(profile.nodes.map((n) => [n.id, n]))
const selfUs = new Map<number, number>()
profile.samples.forEach((id, i) => {
  selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0))
})
const total = [...selfUs.values()].reduce((a, b) => a + b, 0)

function where(url: string): string {
  if (!url) return '(native)'
  const nm = url.lastIndexOf('node_modules/')
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/')
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url)
  }
  if (url.startsWith('node:')) return url
  const src = url.indexOf('/src/')
  return src >= 0 ? url.slice(src + 1) : url
}

const byFunction = new Map<string, number>()
const byPlace = new Map<string, number>()
for (const [id, us] of selfUs) {
  const node = byId.get(id)
  if (!node) continue
  const f = node.callFrame
  const place = where(f.url)
  const key = `${f.functionName || '(anonymous)'}  ${place}:${f.lineNumber + 1}`
  byFunction.set(key, (byFunction.get(key) ?? 0) + us)
  byPlace.set(place, (byPlace.get(place) ?? 0) + us)
}
const pct = (us: number) => `${((100 * us) / total).toFixed(1).padStart(5)}%`
const print = (title: string, m: Map<string, number>) => {
  process.stdout.write(`\n${title}\n`)
  for (const [k, us] of [...m].sort((a, b) => b[1] - a[1]).slice(0, top))
    process.stdout.write(`${pct(us)}  ${k}\n`)
}
process.stdout.write(`total sampled ${(total / 1e6).toFixed(1)} s\n`)
print('self time by package / file', byPlace)
print('self time by function', byFunction)

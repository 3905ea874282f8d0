import { readFileSync } from 'node:fs'
const [file, mode] = process.argv.slice(2)
const p = JSON.parse(readFileSync(file!, 'utf8'))
const byId = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const pkg = (url: string) => {
  if (!url) return '(native)'
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (m) return m[1]
  const s = /\/(src\/.*|bench\/.*)$/.exec(url)
  if (s) return s[1]
  return url.replace(/^node:/, 'node:')
}
const incl = new Map<string, number>()
let active = 0
p.samples.forEach((id: number, i: number) => {
  const dt = p.timeDeltas[i] ?? 0
  const leaf = byId.get(id)
  if (leaf.callFrame.functionName === '(idle)') return
  active += dt
  const seen = new Set<string>()
  let cur: number | undefined = id
  while (cur !== undefined) {
    const n = byId.get(cur)
    const key = mode === 'fn' ? `${n.callFrame.functionName} ${pkg(n.callFrame.url)}:${n.callFrame.lineNumber}` : pkg(n.callFrame.url)
    if (!seen.has(key)) { seen.add(key); incl.set(key, (incl.get(key) ?? 0) + dt) }
    cur = parent.get(cur)
  }
})
console.log('active s', (active / 1e6).toFixed(2))
for (const [k, v] of [...incl].sort((a, b) => b[1] - a[1]).slice(0, Number(process.argv[4] ?? 60))) console.log(((100 * v) / active).toFixed(1).padStart(6), k)

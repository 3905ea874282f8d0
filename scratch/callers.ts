import { readFileSync } from 'node:fs'
const [file, target] = process.argv.slice(2)
const p = JSON.parse(readFileSync(file!, 'utf8'))
const byId = new Map<number, any>(p.nodes.map((n: any) => [n.id, n]))
const parent = new Map<number, number>()
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
const paths = new Map<string, number>()
let total = 0
p.samples.forEach((id: number, i: number) => {
  const dt = p.timeDeltas[i] ?? 0
  const chain: string[] = []
  let cur: number | undefined = id
  let hit = false
  while (cur !== undefined) {
    const n = byId.get(cur)
    const name = `${n.callFrame.functionName}@${(n.callFrame.url.split('/').pop() ?? '')}:${n.callFrame.lineNumber}`
    if (name.startsWith(target!)) hit = true
    else if (hit && !/kysely|node:internal|native|^@/.test(name) && n.callFrame.url.includes('/src/')) chain.push(name)
    cur = parent.get(cur)
  }
  if (!hit) return
  total += dt
  const key = chain.slice(0, 3).join(' < ')
  paths.set(key, (paths.get(key) ?? 0) + dt)
})
console.log('total ms', total / 1000)
for (const [k, v] of [...paths].sort((a, b) => b[1] - a[1]).slice(0, 15)) console.log((v / 1000).toFixed(0).padStart(7), k)

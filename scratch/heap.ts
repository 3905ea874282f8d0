import { readFileSync } from 'node:fs'
const snap = JSON.parse(readFileSync(process.argv[2]!, 'utf8'))
const m = snap.snapshot.meta
const nf = m.node_fields.length
const types = m.node_types[0]
const iType = m.node_fields.indexOf('type'), iName = m.node_fields.indexOf('name'), iSize = m.node_fields.indexOf('self_size')
const agg = new Map<string, [number, number]>()
let total = 0
for (let i = 0; i < snap.nodes.length; i += nf) {
  const t = types[snap.nodes[i + iType]]
  let name = snap.strings[snap.nodes[i + iName]]
  const size = snap.nodes[i + iSize]
  total += size
  const key = t === 'object' || t === 'native' || t === 'hidden' || t === 'code' ? `${t}:${name.slice(0, 60)}` : t
  const a = agg.get(key) ?? [0, 0]
  a[0] += size; a[1]++
  agg.set(key, a)
}
console.log('total MB', (total / 1048576).toFixed(1))
for (const [k, [s, c]] of [...agg].sort((a, b) => b[1][0] - a[1][0]).slice(0, 30)) console.log((s / 1048576).toFixed(2).padStart(7), String(c).padStart(8), k)
const big: [number, string][] = []
for (let i = 0; i < snap.nodes.length; i += nf) {
  const t = types[snap.nodes[i + iType]]
  if (t !== 'string') continue
  const size = snap.nodes[i + iSize]
  if (size > 100000) big.push([size, snap.strings[snap.nodes[i + iName]].slice(0, 100).replace(/\n/g, ' ')])
}
big.sort((a, b) => b[0] - a[0])
let sum = 0
for (const [s, n] of big) sum += s
console.log('strings >100KB:', big.length, (sum / 1048576).toFixed(1), 'MB')
for (const [s, n] of big.slice(0, 25)) console.log((s / 1024).toFixed(0).padStart(6), 'KB', n)

import { seedSqlite } from '/work/main/bench/seed.ts'
const r = await seedSqlite('/tmp/bdb', { users: 1000, tasks: 100000 })
console.log(r.seconds, r.benchUser, r.sampleIds.length)
import { writeFileSync } from 'node:fs'
writeFileSync('/tmp/bdb/seeded.json', JSON.stringify(r))

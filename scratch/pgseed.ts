import { createBenchSchema, seedPostgres } from '/work/main/bench/seed.ts'
import { writeFileSync, mkdirSync } from 'node:fs'
const { schema, url } = await createBenchSchema('postgres://postgres@127.0.0.1:5432/test')
mkdirSync('/tmp/pgb', { recursive: true })
const r = await seedPostgres(url, '/tmp/pgb', { users: 1000, tasks: 100000 })
writeFileSync('/tmp/pgb/seeded.json', JSON.stringify({ ...r, schema, url }))
console.log(schema, r.seconds)

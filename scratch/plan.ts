import { DatabaseSync } from 'node:sqlite'
const db = new DatabaseSync('/tmp/bdb/task-tracker.db')
const sql = process.argv[2]!
console.log(db.prepare('EXPLAIN QUERY PLAN ' + sql).all(...process.argv.slice(3)).map((r: any) => r.detail).join('\n'))

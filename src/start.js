// Entry of `npm start`: turns on Node's on-disk compile cache, then runs src/main.ts.
//
// Node runs our TypeScript by stripping its types with a WebAssembly module that,
// once loaded, stays resident for the life of the process (13–28 MB of a started
// service's memory, measured with /proc/PID/smaps). With the compile cache on, Node
// keeps each module's stripped source and V8 code cache on disk (a folder per Node
// version, CPU, V8 flags and user; an entry per absolute path, checked against the
// file's content); a start whose modules all hit the cache never loads
// the stripper, and compiles less. The first start after an install or a change
// fills the cache (main.ts flushes it once the service listens), every later start
// reads it. This file is plain JavaScript because the cache must be on before the
// first TypeScript module loads. NODE_COMPILE_CACHE=DIR puts the cache elsewhere
// (it is read before this file runs); NODE_DISABLE_COMPILE_CACHE=1 turns it off. A
// cache directory that cannot be written only costs the saving, said on stderr.
import { constants, enableCompileCache } from 'node:module'
import { fileURLToPath } from 'node:url'

const cache = enableCompileCache(
  fileURLToPath(new URL('../node_modules/.cache/task-tracker-compile', import.meta.url)),
)
if (cache.status === constants.compileCacheStatus.FAILED)
  process.stderr.write(`task-tracker: compile cache off (${cache.message ?? 'unknown reason'})\n`)
await import('./main.ts')

// Keeps secrets out of the logs. Every line passes through scrubSecrets
// (pino's formatters.log): any property named like a secret, at any depth up to
// MAX_DEPTH, is replaced by "[redacted]" in a copy; the logged object itself is
// never changed. A Redis command that ioredis attaches to its errors
// (`err.command = { name, args }`) keeps its name and loses its arguments: those
// of AUTH and HELLO hold the password.
//
// Why not pino's `redact` option: with wildcard paths ("*.password") pino runs
// its redactor on every string and number field of every line, and the one line
// per request paid for it: 8 % of the service's CPU on GET /v1/tasks/{id} in
// the benchmark's profile. Here a line whose fields are all plain values (the
// request line) costs one typeof check per field; only nested objects (errors,
// mostly) are walked.

import pino from 'pino'

const SECRET_KEYS = new Set([
  'authorization',
  'cookie',
  'password',
  'accesstoken',
  'refreshtoken',
  'token',
  'secret',
  'privatekey',
  'private_key',
  'key_encryption_secret',
  'jwt_private_key',
  'metrics_token',
])

export const REDACTED = '[redacted]'
const MAX_DEPTH = 5

const isSecretKey = (key: string) => SECRET_KEYS.has(key.toLowerCase())

/** A Redis command as ioredis attaches it to an error: `{ name, args }`. */
const isRedisCommand = (key: string, value: unknown): value is { args: unknown } =>
  key === 'command' && value !== null && typeof value === 'object' && 'args' in value

/** `value` without secrets, or `value` itself when it holds none. */
function clean(key: string, value: unknown, depth: number): unknown {
  if (isSecretKey(key)) return REDACTED
  if (isRedisCommand(key, value)) return { ...value, args: REDACTED }
  return value !== null && typeof value === 'object' ? scrub(value, depth) : value
}

/** The line's fields with every secret-named property (at any depth) replaced; the same object when there is none. */
export function scrubSecrets(fields: Record<string, unknown>): Record<string, unknown> {
  let out = fields
  for (const key in fields) {
    const value = fields[key]
    const cleaned = clean(key, value, 1)
    if (cleaned !== value) {
      if (out === fields) out = { ...fields }
      out[key] = cleaned
    }
  }
  return out
}

function scrub(value: object, depth: number): unknown {
  if (depth > MAX_DEPTH) return value
  if (Array.isArray(value)) {
    let out: unknown[] | undefined
    value.forEach((item, i) => {
      const clean = item !== null && typeof item === 'object' ? scrub(item, depth + 1) : item
      if (clean !== item) {
        out ??= [...value]
        out[i] = clean
      }
    })
    return out ?? value
  }
  let out: Record<string, unknown> | undefined
  const source = value as Record<string, unknown>
  const keys = Object.keys(source)
  // An error's cause is an own property that is not enumerable; the serializer logs it.
  if (value instanceof Error && Object.hasOwn(value, 'cause')) keys.push('cause')
  for (const key of keys) {
    const item = source[key]
    const cleaned = clean(key, item, depth + 1)
    if (cleaned !== item) {
      out ??= copyOf(value)
      out[key] = cleaned
    }
  }
  return out ?? value
}

/** A shallow copy that keeps what the error serializer reads: prototype, message, stack, cause. */
function copyOf(value: object): Record<string, unknown> {
  if (!(value instanceof Error)) return { ...(value as Record<string, unknown>) }
  const copy = Object.create(Object.getPrototypeOf(value)) as Record<string, unknown>
  for (const name of Object.getOwnPropertyNames(value)) {
    // `stack` is an accessor on V8 errors that only works on the original: copy what it reads.
    const read = (value as unknown as Record<string, unknown>)[name]
    Object.defineProperty(copy, name, {
      value: read,
      writable: true,
      enumerable: Object.keys(value).includes(name),
      configurable: true,
    })
  }
  return copy
}

// Where the lines go: stdout, written in batches. pino's default destination writes
// each line as soon as the previous write has finished, so under load nearly every
// request paid for a write of its own through libuv's thread pool: a hand-off to a
// worker thread, a system call and a wake-up of the event loop. Batching lines into
// writes of at least LOG_BATCH_BYTES (pino's documented "asynchronous logging")
// measured 10-13 % less CPU per GET /v1/tasks/{id} in the benchmark (bench/PERFORMANCE.md).
//
// What does not change:
// - A line reaches stdout about LOG_FLUSH_MS after it is logged at the latest, even
//   when traffic is low: a timer flushes what is buffered (only then, so an idle
//   process writes nothing). A write still in progress, or a reader of stdout that
//   does not keep up, delays it further.
// - Lines are written in the order they were logged, also at a graceful exit:
//   main.ts waits for flushLogs() before it exits. On any other exit (an uncaught
//   exception) pino still writes what is buffered, synchronously, but a batch that
//   was in flight may land after it. Only a process killed outright (SIGKILL, the
//   OOM killer) can lose the lines of its last LOG_FLUSH_MS.
// - Writes stay asynchronous: a slow reader of stdout never blocks the event loop.
// - A closed stdout (EPIPE) is not an error: pino stops writing, and so does the timer.

/** Bytes buffered before a write, as pino's asynchronous-logging guide sets it. */
export const LOG_BATCH_BYTES = 4096
/** How long a line may wait in the buffer before the timer writes it. */
export const LOG_FLUSH_MS = 250
/** How long flushLogs waits for stdout to take what is buffered. */
const FLUSH_WAIT_MS = 1000

type Destination = ReturnType<typeof pino.destination>
let stdoutDestination: Destination | undefined

/** The process's one batched stdout destination (stdout is one per process, so is its buffer). */
export function batchedStdout(): pino.DestinationStream {
  if (stdoutDestination) return stdoutDestination
  // Lines are handed over as bytes ('buffer' content mode). In its default text mode the
  // destination appends each line to the string of the batch, then measures that whole string
  // in bytes, which makes V8 copy it out flat: with a write in flight the batch grows to 16 KB,
  // and each line cost ~8.5 KB of copying (V8's sampling heap profiler, a 312-byte request
  // line). As bytes, a line is encoded once and the batch is joined once, when it is written:
  // 3.6-4.0 -> 2.1-2.3 µs of CPU per request line (200,000 lines to /dev/null, three runs).
  const destination = pino.destination({
    dest: 1,
    sync: false,
    minLength: LOG_BATCH_BYTES,
    contentMode: 'buffer',
  })
  // Bytes handed to the destination and bytes it wrote ('write' reports each write's size):
  // the timer flushes only while some are still waiting.
  let handed = 0
  let written = 0
  const write = destination.write.bind(destination) as (data: string | Buffer) => boolean
  const counted = (data: string) => {
    const bytes = Buffer.from(data)
    handed += bytes.length
    return write(bytes)
  }
  destination.write = counted
  destination.on('write', (n: number) => {
    written += n
  })
  const timer = setInterval(() => {
    // After a broken pipe pino swaps in a write that drops lines: nothing will be written again.
    if (destination.write !== counted) clearInterval(timer)
    else if (handed > written) destination.flush()
  }, LOG_FLUSH_MS)
  timer.unref()
  stdoutDestination = destination
  return destination
}

/** Resolves once every line logged so far is written to stdout (or after FLUSH_WAIT_MS). */
export function flushLogs(): Promise<void> {
  const destination = stdoutDestination
  if (!destination) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, FLUSH_WAIT_MS)
    const done = () => {
      clearTimeout(timer)
      resolve()
    }
    try {
      destination.flush(done)
    } catch {
      done() // destroyed: nothing more can be written
    }
  })
}

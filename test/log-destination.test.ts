// The service's stdout log destination (src/logging.ts, batchedStdout): lines are
// written in batches, yet a line reaches stdout within LOG_FLUSH_MS while the
// process idles, an idle process writes nothing, and lines logged just before the
// process exits are all written (in order after flushLogs, as main.ts exits).
// Each case runs a real child process and reads its stdout through a pipe.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { LOG_BATCH_BYTES, LOG_FLUSH_MS } from '../src/logging.ts'

const LOGGING = join(import.meta.dirname, '../src/logging.ts')

interface Output {
  lines: { at: number; line: Record<string, unknown> }[]
  /** How many reads the pipe gave: each holds one or more whole writes of the child. */
  chunks: number
  code: number | null
}

/** Runs `body` in a child with `logger` (pino on batchedStdout); resolves with what reached its stdout. */
function child(body: string): Promise<Output> {
  const script = `
    import pino from 'pino'
    import { batchedStdout, flushLogs } from ${JSON.stringify(LOGGING)}
    const logger = pino({ level: 'info' }, batchedStdout())
    ${body}
  `
  const proc = spawn(process.execPath, ['--input-type=module', '-e', script], {
    cwd: join(import.meta.dirname, '..'),
    stdio: ['ignore', 'pipe', 'ignore'],
  })
  const output: Output = { lines: [], chunks: 0, code: null }
  let rest = ''
  proc.stdout.setEncoding('utf8') // a character split across two reads is decoded whole
  proc.stdout.on('data', (chunk: string) => {
    output.chunks++
    const parts = (rest + chunk).split('\n')
    rest = parts.pop() ?? ''
    for (const part of parts)
      output.lines.push({ at: Date.now(), line: JSON.parse(part) as Record<string, unknown> })
  })
  return new Promise((resolve) =>
    proc.once('close', (code) => {
      output.code = code
      resolve(output)
    }),
  )
}

describe('batched stdout log destination', () => {
  it('writes a lone line while the process idles, within the flush interval', async () => {
    // The line is far shorter than a batch: only the timer can write it. The child then
    // says when it was logged, and stays alive well past the interval before exiting.
    const { lines, code } = await child(`
      const sent = Date.now()
      logger.info({ sent }, 'lone line')
      setTimeout(() => process.exit(0), ${LOG_FLUSH_MS * 8})
    `)
    assert.equal(code, 0)
    const lone = lines.find((l) => l.line.msg === 'lone line')
    assert.ok(lone, 'the line never arrived')
    const waited = lone.at - Number(lone.line.sent)
    // Written by the timer, not by the exit LOG_FLUSH_MS * 8 later (generous margin for a busy machine).
    assert.ok(waited < LOG_FLUSH_MS * 5, `the line took ${waited} ms to arrive`)
  })

  it('writes lines with non-ASCII text whole and in order, however the batches cut them', async () => {
    // Lines are handed over as bytes: a batch is cut by byte count, and the timer writes a lone
    // line only if it counts it as waiting.
    const text = 'Ünïcödé ✓ 任务 🎉'
    const n = 1500
    const { lines, code } = await child(`
      for (let i = 0; i < ${n}; i++) logger.info({ i, text: ${JSON.stringify(text)} }, 'line')
      await flushLogs()
      logger.info({ text: ${JSON.stringify(text)} }, 'lone')
      setTimeout(() => process.exit(0), ${LOG_FLUSH_MS * 4})
    `)
    assert.equal(code, 0)
    const batch = lines.filter((l) => l.line.msg === 'line')
    assert.deepEqual(
      batch.map((l) => l.line.i),
      Array.from({ length: n }, (_, i) => i),
    )
    assert.ok(batch.every((l) => l.line.text === text))
    assert.equal(lines.find((l) => l.line.msg === 'lone')?.line.text, text)
  })

  it('writes every line, in order, when the process exits after flushLogs (as main.ts does)', async () => {
    // Many lines at once: batches are in flight when the exit begins.
    const n = 2000
    const { lines, code } = await child(`
      for (let i = 0; i < ${n}; i++) logger.info({ i }, 'line')
      await flushLogs()
      process.exit(3)
    `)
    assert.equal(code, 3)
    assert.deepEqual(
      lines.map((l) => l.line.i),
      Array.from({ length: n }, (_, i) => i),
    )
  })

  it('loses no line logged just before a bare process.exit', async () => {
    const n = 500
    const { lines, code } = await child(`
      for (let i = 0; i < ${n}; i++) logger.info({ i }, 'line')
      process.exit(3)
    `)
    assert.equal(code, 3)
    // Every line arrives; a batch in flight at the exit may land after the rest (src/logging.ts).
    assert.deepEqual(
      lines.map((l) => l.line.i as number).sort((a, b) => a - b),
      Array.from({ length: n }, (_, i) => i),
    )
  })

  it('writes nothing while idle', async () => {
    // One line, then quiet for several flush intervals. The child counts its writes to
    // stdout (sonic-boom writes through fs.write) and reports them on a line of its own.
    // The timer used to flush every LOG_FLUSH_MS, empty buffer or not (zero-byte writes).
    const { lines, code } = await child(`
      const fs = (await import('node:fs')).default
      let writes = 0
      const original = fs.write
      fs.write = (fd, ...rest) => {
        if (fd === 1) writes++
        return original(fd, ...rest)
      }
      logger.info('only line')
      setTimeout(() => {
        fs.writeSync(1, JSON.stringify({ writes }) + '\\n')
        process.exit(0)
      }, ${LOG_FLUSH_MS * 5})
    `)
    assert.equal(code, 0)
    assert.deepEqual(
      lines.map((l) => l.line.msg ?? l.line),
      ['only line', { writes: 1 }],
    )
  })

  it('loses no line when an uncaught exception ends the process', async () => {
    const { lines, code } = await child(`
      logger.info('before the crash')
      setImmediate(() => { throw new Error('boom') })
    `)
    assert.notEqual(code, 0)
    assert.ok(lines.some((l) => l.line.msg === 'before the crash'))
  })

  it('batches: lines logged one by one reach the pipe in far fewer writes than lines', async () => {
    // One line per millisecond, as a busy service logs: pino's default destination writes each
    // line as soon as the previous write is done, so nearly every line is a write of its own.
    const n = 300
    const { lines, chunks, code } = await child(`
      let i = 0
      const timer = setInterval(() => {
        logger.info({ i }, 'x')
        if (++i === ${n}) {
          clearInterval(timer)
          setTimeout(() => process.exit(0), ${LOG_FLUSH_MS * 2})
        }
      }, 1)
    `)
    assert.equal(code, 0)
    assert.equal(lines.length, n)
    const bytes = lines.reduce((sum, l) => sum + JSON.stringify(l.line).length + 1, 0)
    // Batches of LOG_BATCH_BYTES, plus a timer flush every LOG_FLUSH_MS over the run (~1 ms a line).
    const most = Math.ceil(bytes / LOG_BATCH_BYTES) + Math.ceil((n * 2) / LOG_FLUSH_MS) + 4
    assert.ok(chunks <= most, `${chunks} writes for ${n} lines (${bytes} bytes); expected at most ${most}`)
  })
})

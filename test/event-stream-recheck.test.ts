// An open event stream's credential check (EventStreams.open's `credential`), on a real
// database: a check that cannot be answered (the database or identity provider down) leaves
// the stream open, one that says no ends it with a comment and frees its slot, and a check
// that hangs is not started again while it is still running.
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import pino from 'pino'
import { START } from '../src/events/repository.ts'
import { localEventSignal } from '../src/events/signal.ts'
import { EventStreams } from '../src/events/stream.ts'
import { waitFor } from './events-support.ts'
import { buildTestApp, type TestApp } from './helpers.ts'

describe('an open event stream rechecking its credential', () => {
  let t: TestApp
  let streams: EventStreams
  before(async () => {
    t = await buildTestApp()
    streams = new EventStreams({
      database: t.app.database,
      signal: localEventSignal(),
      settings: { heartbeatMs: 60_000, pollIntervalMs: 60_000 },
      log: t.app.log,
    })
  })
  after(() => t.close())

  it('stays open while checks fail, and ends with a comment once one says no', async () => {
    let answer: 'fail' | 'deny' = 'fail'
    let checks = 0
    const out = streams.open(START, 'user-a', {
      everyMs: 20,
      stillAllowed: async () => {
        checks++
        if (answer === 'fail') throw new Error('database unavailable')
        return false
      },
    })
    let text = ''
    out.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8')
    })
    await waitFor(() => checks >= 3, 'three failed checks', 5000)
    assert.equal(out.writableEnded, false, 'a check that could not be answered does not end the stream')
    assert.equal(streams.openFor('user-a'), 1)
    answer = 'deny'
    await waitFor(() => out.writableFinished, 'the stream to end', 5000)
    assert.match(text, /: credential no longer valid/)
    assert.equal(streams.openFor('user-a'), 0)
  })

  it('logs failing checks once for the outage, and once when they work again', async () => {
    const lines: string[] = []
    const log = pino({ level: 'info' }, { write: (line: string) => lines.push(line) })
    const logged = new EventStreams({
      database: t.app.database,
      signal: localEventSignal(),
      settings: { heartbeatMs: 60_000, pollIntervalMs: 60_000 },
      log,
    })
    let fail = true
    let checks = 0
    const outs = ['user-c', 'user-d'].map((user) =>
      logged.open(START, user, {
        everyMs: 20,
        stillAllowed: async () => {
          checks++
          if (fail) throw new Error('database unavailable')
          return true
        },
      }),
    )
    await waitFor(() => checks >= 6, 'failed checks on both streams', 5000)
    fail = false
    const before = checks
    await waitFor(() => checks >= before + 2, 'checks that succeed', 5000)
    logged.closeAll()
    const messages = lines.map((line) => (JSON.parse(line) as { msg: string }).msg)
    assert.deepEqual(
      messages.filter((m) => m.includes('recheck')),
      [
        'event streams cannot recheck their credentials; they stay open until a check succeeds',
        'event streams recheck their credentials again',
      ],
    )
    for (const out of outs) assert.equal(out.writableEnded, true)
  })

  it('does not start a check while the last one is still running', async () => {
    let checks = 0
    let release: (allowed: boolean) => void = () => {}
    const out = streams.open(START, 'user-b', {
      everyMs: 10,
      stillAllowed: () => {
        checks++
        return new Promise<boolean>((resolve) => {
          release = resolve
        })
      },
    })
    out.resume()
    await waitFor(() => checks === 1, 'the first check', 5000)
    await new Promise((resolve) => setTimeout(resolve, 100))
    assert.equal(checks, 1, 'ten intervals passed, one check running')
    release(true)
    await waitFor(() => checks === 2, 'the next check once it answered', 5000)
    out.destroy()
    await waitFor(() => streams.openFor('user-b') === 0, 'the slot freed', 5000)
  })
})

// Entry point: load config, build the app, listen, and shut down gracefully
// on SIGTERM/SIGINT (API.md §6). Nothing else lives here.
import { flushCompileCache } from 'node:module'
import { buildApp } from './app.ts'
import { ConfigError, loadConfig, loadDotEnv } from './config.ts'
import { flushLogs } from './logging.ts'

const DRAIN_GRACE_MS = 250

async function main(): Promise<void> {
  loadDotEnv()
  let config: ReturnType<typeof loadConfig>
  try {
    config = loadConfig()
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`task-tracker: ${error.message}\n`)
      process.exit(78) // EX_CONFIG
    }
    throw error
  }

  const app = await buildApp(config)
  await app.listen({ port: config.PORT, host: config.HOST })
  // Every module the service loads at start is loaded now: write the compile cache
  // (src/start.js) at once rather than at exit, which a killed process never reaches.
  flushCompileCache()

  let stopping = false
  const shutdown = async (signal: string) => {
    if (stopping) return
    stopping = true
    app.log.info({ signal }, 'shutting down: draining in-flight requests')
    app.beginShutdown()
    const force = setTimeout(() => {
      app.log.error(
        { timeoutMs: config.SHUTDOWN_TIMEOUT_MS },
        'shutdown timed out; closing remaining connections',
      )
      app.server.closeAllConnections()
      void flushLogs().finally(() => process.exit(1))
    }, config.SHUTDOWN_TIMEOUT_MS)
    force.unref()
    try {
      // One short pause before the listener closes lets the event loop take in connections and
      // requests already on the wire: Node counts a socket whose request is not parsed yet as
      // idle, and closing the server resets idle sockets, which fails requests sent before SIGTERM.
      await new Promise((resolve) =>
        setTimeout(resolve, Math.min(DRAIN_GRACE_MS, config.SHUTDOWN_TIMEOUT_MS)),
      )
      // Timers run before I/O in an event-loop turn; setImmediate runs after it, so even a loop
      // that was blocked past the grace reads what is waiting on its sockets before closing.
      await new Promise((resolve) => setImmediate(resolve))
      await app.close()
      app.log.info('shutdown complete')
      // Log lines are written in batches (src/logging.ts): the last ones go out, in order, first.
      await flushLogs()
      process.exit(0)
    } catch (err) {
      app.log.error({ err }, 'error during shutdown')
      await flushLogs()
      process.exit(1)
    }
  }
  process.once('SIGTERM', () => void shutdown('SIGTERM'))
  process.once('SIGINT', () => void shutdown('SIGINT'))
}

main().catch((error: unknown) => {
  process.stderr.write(
    `task-tracker: failed to start: ${error instanceof Error ? error.message : String(error)}\n`,
  )
  void flushLogs().finally(() => process.exit(1))
})

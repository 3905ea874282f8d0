// A dependency's outage in the log, as one part of the service meets it (the rate limits, the
// wake-ups, the event listener each keep their own): one warning when it begins and one line
// when it ends. While a dependency is down every use of it fails, often several times a second;
// a line per failure would bury everything else in the log and say nothing the first one did not.
import type { FastifyBaseLogger } from 'fastify'

export interface OutageMessages {
  /** Logged at warn, with the error, on the first failure of an outage. */
  down: string
  /** Logged at info on the first success after it. */
  back: string
}

export class OutageLog {
  #down = false
  readonly #log: FastifyBaseLogger
  readonly #messages: OutageMessages

  constructor(log: FastifyBaseLogger, messages: OutageMessages) {
    this.#log = log
    this.#messages = messages
  }

  failed(err: unknown): void {
    if (this.#down) return
    this.#down = true
    this.#log.warn({ err }, this.#messages.down)
  }

  ok(): void {
    if (!this.#down) return
    this.#down = false
    this.#log.info(this.#messages.back)
  }
}

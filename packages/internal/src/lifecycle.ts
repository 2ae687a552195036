import { describeValue } from './describe'
import type { Duration } from './duration'
import { parseDuration } from './duration'
import type { ErrorClass } from './errors'

/** What every `close()` of every scalekit object takes. */
export interface CloseOptions {
  /**
   * How long in-flight work (loads, flushes, queries, handlers, unconfirmed publishes) may take to
   * finish before it is given up on (and rejected with the package's `…_CLOSED` error) and the
   * resources are released anyway.
   * @default '10s'
   */
  readonly timeout?: Duration
}

/** The default of {@link CloseOptions.timeout}, in ms, in every package. */
export const CLOSE_TIMEOUT_MS = 10_000

/**
 * The shape of every long-lived scalekit object: `close()` finishes in-flight work within the
 * timeout, then releases what it created (never what you passed in); calling it again returns the
 * same promise. `await using` calls it with the default timeout.
 */
export interface Closeable extends AsyncDisposable {
  close(options?: CloseOptions): Promise<void>
}

/** The timeout of a `close(options)` call in ms; a bad value throws `ArgumentError` (close takes no remote step first). */
export function closeTimeout(options: CloseOptions | undefined, ArgumentError: ErrorClass): number {
  const given: unknown = options
  if (given === undefined) return CLOSE_TIMEOUT_MS
  if (typeof given !== 'object' || given === null || options === undefined)
    throw new ArgumentError(`close() takes { timeout }, got ${describeValue(options)}`)
  const ms = parseDuration(options.timeout ?? CLOSE_TIMEOUT_MS)
  if (ms === undefined)
    throw new ArgumentError(
      `close({ timeout }) must be a duration like '10s' or ms, got ${describeValue(options.timeout)}`,
    )
  return ms
}

/**
 * The overall state in every `health()` snapshot: `ok` — everything answers; `degraded` — serving,
 * with a dependency down or a fallback in use (an open breaker, a replica out, a broker away with
 * publishes buffered); `down` — cannot serve; `closed` — `close()` was called.
 */
export type HealthStatus = 'ok' | 'degraded' | 'down' | 'closed'

/** What every package's `health()` snapshot has first; each adds its own fields. */
export interface HealthSnapshot {
  readonly status: HealthStatus
}

/**
 * The one `close()` of every scalekit object: the first call checks its options, marks the object
 * closed and runs `shutdown` once with the timeout in ms; every later call returns that same promise.
 * An object keeps one, answers `close(options)` with `gate.close(options)` and refuses new work
 * while `gate.closed`.
 */
export class CloseGate {
  readonly #ArgumentError: ErrorClass
  readonly #shutdown: (timeoutMs: number) => Promise<void>
  #closing: Promise<void> | undefined
  #closed = false

  constructor(ArgumentError: ErrorClass, shutdown: (timeoutMs: number) => Promise<void>) {
    this.#ArgumentError = ArgumentError
    this.#shutdown = shutdown
  }

  /** True once `close()` was called (with valid options), already while `shutdown` starts. */
  get closed(): boolean {
    return this.#closed
  }

  close(options?: CloseOptions): Promise<void> {
    if (this.#closing !== undefined) return this.#closing
    let timeoutMs: number
    try {
      timeoutMs = closeTimeout(options, this.#ArgumentError)
    } catch (error) {
      return Promise.reject(error instanceof Error ? error : new this.#ArgumentError(String(error)))
    }
    this.#closed = true
    try {
      this.#closing = this.#shutdown(timeoutMs)
    } catch (error) {
      this.#closing = Promise.reject(error instanceof Error ? error : new Error(String(error)))
    }
    return this.#closing
  }
}

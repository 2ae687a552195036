import { performance } from 'node:perf_hooks'
import { getHeapStatistics } from 'node:v8'
import { createChecks, type Duration } from '@scalekit/internal'
import { ObservabilityOptionsError } from '../errors'

/** Options of {@link createLoadShedder}. */
export interface LoadShedderOptions {
  /** Shed while the longest event-loop delay seen over the last sample interval is above this. @default '200ms' */
  maxEventLoopDelay?: Duration
  /** Shed while the used heap is above this share of the heap limit (0–1). @default 0.9 */
  maxHeapUsedRatio?: number
  /** How often delay and heap are sampled (a shed decision is as old as one interval at most). @default '500ms' */
  sampleInterval?: Duration
  /** The `Retry-After` of a shed response, rounded up to whole seconds. @default '5s' */
  retryAfter?: Duration
}

/** The defaults of {@link LoadShedderOptions}. */
export const loadShedderDefaults: {
  readonly maxEventLoopDelay: '200ms'
  readonly maxHeapUsedRatio: 0.9
  readonly sampleInterval: '500ms'
  readonly retryAfter: '5s'
} = { maxEventLoopDelay: '200ms', maxHeapUsedRatio: 0.9, sampleInterval: '500ms', retryAfter: '5s' }

/** Why a request was shed. */
export type ShedReason = 'event-loop-delay' | 'heap'

/**
 * Decides whether to refuse new requests (503 with `Retry-After`) while the process is saturated.
 * The decision is sampled on a timer, so asking costs a field read; give it to the Express
 * middleware or the Fastify plugin as `shed`.
 */
export interface LoadShedder {
  /** Why requests are being shed now, or `undefined` when they are not. */
  readonly reason: ShedReason | undefined
  /** The `Retry-After` header value, whole seconds. */
  readonly retryAfterSeconds: number
  /** Samples now (also done every `sampleInterval`). */
  sample(): void
  /** Stops sampling (shedding stops). */
  close(): void
}

const checks = createChecks(ObservabilityOptionsError)

class Shedder implements LoadShedder {
  reason: ShedReason | undefined
  readonly retryAfterSeconds: number
  readonly #maxDelayMs: number
  readonly #maxHeapRatio: number
  readonly #timer: NodeJS.Timeout
  readonly #probe: NodeJS.Timeout
  #maxLagMs = 0

  constructor(options: LoadShedderOptions) {
    const maxDelay = checks.duration(
      'maxEventLoopDelay',
      options.maxEventLoopDelay,
      loadShedderDefaults.maxEventLoopDelay,
      { min: 1 },
    )
    this.#maxDelayMs = maxDelay
    this.#maxHeapRatio = checks.number(
      'maxHeapUsedRatio',
      options.maxHeapUsedRatio,
      loadShedderDefaults.maxHeapUsedRatio,
      { above: 0, max: 1 },
    )
    const interval = checks.duration(
      'sampleInterval',
      options.sampleInterval,
      loadShedderDefaults.sampleInterval,
      { min: 10 },
    )
    this.retryAfterSeconds = Math.max(
      1,
      Math.ceil(checks.duration('retryAfter', options.retryAfter, loadShedderDefaults.retryAfter) / 1000),
    )
    // A probe timer at half the threshold: how late it fires is the event loop's delay. (Node 20's
    // monitorEventLoopDelay missed a 200 ms block entirely in a test here.)
    const period = Math.max(5, Math.min(100, Math.floor(maxDelay / 2)))
    let last = performance.now()
    this.#probe = setInterval(() => {
      const now = performance.now()
      this.#maxLagMs = Math.max(this.#maxLagMs, now - last - period)
      last = now
    }, period)
    this.#probe.unref()
    this.#timer = setInterval(() => {
      this.sample()
    }, interval)
    this.#timer.unref()
    this.sample()
  }

  sample(): void {
    const delay = this.#maxLagMs
    this.#maxLagMs = 0
    if (delay > this.#maxDelayMs) {
      this.reason = 'event-loop-delay'
      return
    }
    const heap = getHeapStatistics()
    this.reason = heap.used_heap_size / heap.heap_size_limit > this.#maxHeapRatio ? 'heap' : undefined
  }

  close(): void {
    clearInterval(this.#timer)
    clearInterval(this.#probe)
    this.reason = undefined
  }
}

/**
 * A load shedder sampling event-loop delay and heap use.
 *
 * ```ts
 * const shed = createLoadShedder({ maxEventLoopDelay: '200ms', maxHeapUsedRatio: 0.9 })
 * ```
 */
export function createLoadShedder(options: LoadShedderOptions = {}): LoadShedder {
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    throw new ObservabilityOptionsError(`createLoadShedder() takes an options object, got ${typeof given}`)
  return new Shedder(options)
}

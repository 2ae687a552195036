import { CacheFactoryTimeoutError } from './errors'

/** What a factory receives. */
export interface FactoryContext<T = unknown> {
  /** Aborted when the hard timeout passes; pass it to fetch() or your driver to stop wasted work. */
  signal: AbortSignal
  /** The last value, when one within its grace period exists. */
  stale: T | undefined
}

/**
 * A function that computes a value on a miss. `T` is what it returns; `S`, the type of `stale`, is
 * `T` when you name `T` (`getOrSet<User>(…)`) and `unknown` when `T` is inferred from the factory: a
 * separate parameter, so that a factory taking `({ signal })` still has its return type inferred
 * (a context typed by `T` itself made TypeScript fix `T` as `unknown` before reading the return).
 */
export type Factory<T, S extends T = T> = (context: FactoryContext<S>) => T | Promise<T>

/** How the factory itself ended. */
export type FactoryOutcome<T> = { ok: true; value: T; delta: number } | { ok: false; error: unknown }

/** The value a run settled with, or a stale one served because the factory failed or was slow. */
export type RunResult<T> = { kind: 'fresh'; value: T; delta: number } | { kind: 'stale'; value: T }

/**
 * Runs a factory once, racing it against the soft timeout (answer stale, keep refreshing) and the
 * hard timeout (abort, answer stale or fail with ERR_CACHE_FACTORY_TIMEOUT). A failing factory
 * answers stale when it can, else its error is rethrown unchanged. `onSettled` always sees how the
 * factory itself ended, even after the caller was answered, so the refresh can still be stored.
 */
export function runFactory<T>(
  factory: Factory<T>,
  options: {
    stale: { value: T } | undefined
    softTimeout?: number | undefined
    hardTimeout?: number | undefined
    /** Where the run registers how to give it up: the cache's `close()` calls each with its closed error. */
    running?: Set<(reason: Error) => void> | undefined
    /**
     * Runs once if the run is given up while the factory has not settled (its hard timeout passed,
     * or the cache closed): the lock holder stops renewing and releases the key's lock then.
     */
    onAbandoned?: (() => void) | undefined
  },
  onSettled: (outcome: FactoryOutcome<T>) => void,
): Promise<RunResult<T>> {
  const controller = new AbortController()
  const started = performance.now()
  const { stale } = options
  const timers: NodeJS.Timeout[] = []
  let giveUp: ((reason: Error) => void) | undefined
  let settledYet = false
  let abandoned = false
  const clear = (): void => {
    settledYet = true
    for (const t of timers) clearTimeout(t)
    if (giveUp !== undefined) options.running?.delete(giveUp)
  }
  const abandon = (): void => {
    if (settledYet || abandoned) return
    abandoned = true
    if (giveUp !== undefined) options.running?.delete(giveUp)
    options.onAbandoned?.()
  }

  // An async wrapper turns a synchronous throw into a rejection; errors reach the caller unchanged.
  const work = (async (): Promise<T> => factory({ signal: controller.signal, stale: stale?.value }))()
  const settled = work.then(
    (value) => {
      const delta = performance.now() - started
      onSettled({ ok: true, value, delta })
      return { kind: 'fresh', value, delta } as const
    },
    (error: unknown) => {
      onSettled({ ok: false, error })
      if (stale !== undefined) return { kind: 'stale', value: stale.value } as const
      throw error
    },
  )

  return new Promise<RunResult<T>>((resolve, reject) => {
    settled.finally(clear).then(resolve, reject)
    giveUp = (reason) => {
      controller.abort(reason)
      abandon()
      reject(reason)
    }
    options.running?.add(giveUp)
    if (stale !== undefined && options.softTimeout !== undefined) {
      timers.push(
        setTimeout(() => {
          resolve({ kind: 'stale', value: stale.value })
        }, options.softTimeout),
      )
    }
    if (options.hardTimeout !== undefined) {
      timers.push(
        setTimeout(() => {
          const timedOut = new CacheFactoryTimeoutError(
            `factory did not settle within ${options.hardTimeout} ms`,
          )
          controller.abort(timedOut)
          abandon()
          if (stale !== undefined) resolve({ kind: 'stale', value: stale.value })
          else reject(timedOut)
        }, options.hardTimeout),
      )
    }
  })
}

/**
 * Resolves after `ms`, or at once when `signal` aborts; never rejects, and never keeps the process
 * alive. Retry loops sleep through it so that `close()` does not wait out a backoff. `ms` of
 * `Infinity` waits for the signal alone.
 */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return
  await new Promise<void>((resolve) => {
    const timer = Number.isFinite(ms) ? setTimeout(done, Math.max(0, ms)) : undefined
    timer?.unref()
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

/**
 * Settles like `promise`, or rejects with `onTimeout()` after `ms`: for one-off waits (start-up,
 * close, a health probe). Many concurrent calls share a {@link DeadlineSweep} instead. The promise
 * runs on; a late rejection of it is observed, so it never becomes an unhandled one.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, onTimeout: () => Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(onTimeout())
    }, ms)
  })
  promise.catch(() => undefined)
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

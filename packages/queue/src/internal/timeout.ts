import { QueueTimeoutError } from '../errors'

/**
 * Settles like `promise`, or rejects with `QueueTimeoutError` naming `what` after `ms`. The
 * promise keeps running; a late rejection is swallowed so it cannot become an unhandled one.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new QueueTimeoutError(`${what} did not answer within ${ms} ms`))
    }, ms)
  })
  promise.catch(() => undefined)
  try {
    return await Promise.race([promise, timeout])
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves after `ms` (unref'd: it never keeps the process alive), or at once when `signal` aborts. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return
  await new Promise<void>((resolve) => {
    const timer = setTimeout(done, ms)
    timer.unref()
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

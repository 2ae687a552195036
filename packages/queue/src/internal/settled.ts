import { sleep } from '@scalekit/internal'

/**
 * Resolves once `promise` settles (either way), `ms` pass, or `signal` aborts — whichever comes
 * first; never rejects. What a drain waits on: "until idle, or until the close timeout".
 */
export async function settledWithin(
  promise: Promise<unknown>,
  ms: number,
  signal?: AbortSignal,
): Promise<void> {
  const done = new AbortController()
  const stop = (): void => {
    done.abort()
  }
  promise.then(stop, stop)
  signal?.addEventListener('abort', stop, { once: true })
  await sleep(ms, done.signal)
  signal?.removeEventListener('abort', stop)
}

/**
 * Delay before retry number `attempt` (1 = the first retry): exponential with full jitter, a
 * uniform draw in `[0, min(max, initial * 2^(attempt-1)))`, so instances that failed together do
 * not retry together.
 */
export function backoffDelay(attempt: number, backoff: { readonly initial: number; readonly max: number }, random: () => number = Math.random): number {
  const ceiling = Math.min(backoff.max, backoff.initial * 2 ** Math.max(0, attempt - 1))
  return Math.floor(random() * ceiling)
}

/**
 * Resolves after `ms`, or at once when `signal` aborts (never rejects): loops sleep through it so
 * that `close()` does not wait out a backoff. `ms` of `Infinity` waits for the signal alone.
 */
export async function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer)
      signal.removeEventListener('abort', done)
      resolve()
    }
    const timer = Number.isFinite(ms) ? setTimeout(done, Math.max(0, ms)) : undefined
    signal.addEventListener('abort', done, { once: true })
  })
}

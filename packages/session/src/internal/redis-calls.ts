import type { DeadlineSweep } from '@scalekit/internal'
import { SessionStoreError } from '../errors'

/**
 * Runs `script` bounded by `timeoutMs` on `sweep`: a timeout or a Redis failure becomes
 * {@link SessionStoreError} (503) with the driver's error as `cause`; `onError` sees it first.
 */
export async function callRedis(
  sweep: DeadlineSweep,
  timeoutMs: number,
  what: string,
  work: Promise<unknown>,
  onError?: (error: SessionStoreError) => void,
): Promise<unknown> {
  try {
    return await sweep.race(
      work,
      timeoutMs,
      () => new SessionStoreError(`Redis did not answer ${what} within ${timeoutMs} ms`),
    )
  } catch (error) {
    const coded =
      error instanceof SessionStoreError
        ? error
        : new SessionStoreError(`Redis failed ${what}`, { cause: error })
    onError?.(coded)
    throw coded
  }
}

import type { DeadlineSweep } from '@scalekit/internal'
import { SessionStoreError } from '../errors'

/**
 * Settles like `work` within `timeoutMs` on `sweep`: a timeout or a Redis failure becomes
 * {@link SessionStoreError} (503) with the driver's error as `cause`. `work` runs on either way, and
 * a late failure of it is observed, never left unhandled.
 */
export function callRedis(
  sweep: DeadlineSweep,
  timeoutMs: number,
  what: string,
  work: Promise<unknown>,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const deadline = sweep.add(timeoutMs, () => {
      reject(new SessionStoreError(`Redis did not answer ${what} within ${timeoutMs} ms`))
    })
    work.then(
      (value) => {
        deadline.cancel()
        resolve(value)
      },
      (error: unknown) => {
        deadline.cancel()
        reject(
          error instanceof SessionStoreError
            ? error
            : new SessionStoreError(`Redis failed ${what}`, { cause: error }),
        )
      },
    )
  })
}

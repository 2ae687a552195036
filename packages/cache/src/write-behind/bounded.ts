import { CacheError, CacheUnavailableError } from '../errors'

/**
 * Runs one Redis call bounded by `timeoutMs` (a race with a timer, cleared after), so no caller
 * waits on Redis longer than that. A timeout or a Redis error rejects with `CacheUnavailableError`
 * (the Redis error as `cause`). A call that times out may still be applied later.
 */
export async function bounded<R>(what: string, timeoutMs: number, run: () => Promise<R>): Promise<R> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(new CacheUnavailableError(`write-behind: Redis did not answer ${what} within ${timeoutMs} ms`))
    }, timeoutMs)
  })
  try {
    return await Promise.race([run(), timeout])
  } catch (error) {
    if (error instanceof CacheError) throw error
    throw new CacheUnavailableError(`write-behind: Redis ${what} failed: ${messageOf(error)}`, { cause: error })
  } finally {
    clearTimeout(timer)
  }
}

/** The message of anything thrown. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Anything thrown, as an Error (for `onError`). */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

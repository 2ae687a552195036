import { createHash } from 'node:crypto'
import type { DeadlineSweep } from '@scalekit/internal'
import { SessionStoreError } from '../errors'
import type { RedisClient } from '../redis'

/**
 * A Lua script run by SHA (EVALSHA), sent in full on the first NOSCRIPT. Each touches only keys of
 * one hash tag, so it runs unchanged on Redis Cluster.
 */
export class Script {
  readonly source: string
  readonly sha: string

  constructor(source: string) {
    this.source = source
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  async run(
    client: RedisClient,
    keys: readonly string[],
    args: readonly (string | number)[],
  ): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, keys.length, ...keys, ...args)
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT'))
        return client.eval(this.source, keys.length, ...keys, ...args)
      throw error
    }
  }
}

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

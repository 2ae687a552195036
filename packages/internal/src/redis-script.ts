import { createHash } from 'node:crypto'
import type { RedisCommands } from './redis-client'

/** What running a script needs of a client. */
export type ScriptRunner = Pick<RedisCommands, 'eval' | 'evalsha'>

/**
 * A Lua script run by SHA (EVALSHA), and sent in full (EVAL) on NOSCRIPT: a restarted or failed-over
 * Redis has forgotten it. The app's client is never changed (no `defineCommand` on it). A script
 * that touches only keys of one hash tag runs unchanged on Redis Cluster.
 */
export class RedisScript {
  readonly source: string
  readonly sha: string

  constructor(source: string) {
    this.source = source
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  async run(
    client: ScriptRunner,
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

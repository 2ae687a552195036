import { createHash } from 'node:crypto'
import type { RedisClient } from '@scalekit/internal'
import type { StoreOutcome } from '../store'

/**
 * A Lua script run by SHA (EVALSHA), sent whole (EVAL) on NOSCRIPT — a restarted or failed-over
 * Redis has forgotten it. The app's client is never changed (no `defineCommand` on it).
 */
export class Script {
  readonly source: string
  readonly sha: string

  constructor(source: string) {
    this.source = source
    this.sha = createHash('sha1').update(source).digest('hex')
  }

  async run(client: RedisClient, key: string, args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.sha, 1, key, ...args)
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT'))
        return client.eval(this.source, 1, key, ...args)
      throw error
    }
  }
}

/**
 * How a store calls one algorithm's script: the script, its arguments for a request, and the
 * outcome read from its reply (checked: a malformed reply throws a TypeError).
 */
export interface ScriptCall {
  readonly script: Script
  args(cost: number, carry: number): (string | number)[]
  outcome(reply: unknown, cost: number): StoreOutcome
}

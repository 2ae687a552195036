import type { RedisClient } from '@scalekit/internal'
import type { Algorithm, Params } from '../../algorithms'
import type { Store, StoreOutcome } from '../store'
import { scripts, type Script } from './scripts'

/** The store on Redis: one script call per decision, on the key alone, with the server's clock. */
export class RedisStore implements Store {
  readonly #client: () => RedisClient | Promise<RedisClient>
  readonly #script: Script
  readonly #params: readonly number[]

  /** `client` hands the client to call (a client made from a URL is made on first use). */
  constructor(client: () => RedisClient | Promise<RedisClient>, algorithm: Algorithm, p: Params) {
    this.#client = client
    this.#script = scripts[algorithm]
    this.#params = [p.limit, p.periodUs, p.burst, p.intervalUs]
  }

  async take(key: string, cost: number, carry: number): Promise<StoreOutcome> {
    const client = await this.#client()
    return parseReply(await this.#script.run(client, key, [cost, carry, ...this.#params]))
  }
}

/** The script's reply, checked: six integers. */
function parseReply(reply: unknown): StoreOutcome {
  if (!Array.isArray(reply) || reply.length !== 6 || !reply.every((n) => typeof n === 'number'))
    throw new TypeError(`unexpected reply from the rate-limit script: ${JSON.stringify(reply)}`)
  const [allowed, remaining, resetAfterUs, retryAfterUs, emptyForUs, nowUs] = reply
  return {
    allowed: allowed === 1,
    remaining: remaining as number,
    resetAfterUs: resetAfterUs as number,
    retryAfterUs: retryAfterUs as number,
    emptyForUs: emptyForUs as number,
    nowUs: nowUs as number,
  }
}

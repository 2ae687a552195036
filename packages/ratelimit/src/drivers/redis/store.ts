import type { RedisClient } from '@scalekit/internal'
import type { Algorithm, Params } from '../../algorithms'
import type { Store, StoreOutcome } from '../store'
import { scripts, type Script } from './scripts'

/** The store on Redis: one script call per decision, on the key alone, with the server's clock. */
export class RedisStore implements Store {
  readonly #client: () => RedisClient | Promise<RedisClient>
  readonly #script: Script
  /** The limiter's constant script arguments: limit, periodUs, burst, intervalUs. */
  readonly #params: readonly string[]

  /** `client` hands the client to call (a client made from a URL is made on first use). */
  constructor(client: () => RedisClient | Promise<RedisClient>, algorithm: Algorithm, p: Params) {
    this.#client = client
    this.#script = scripts[algorithm]
    this.#params = [p.limit, p.periodUs, p.burst, p.intervalUs].map(String)
  }

  take(key: string, cost: number, carry: number): Promise<StoreOutcome> {
    const client = this.#client()
    return client instanceof Promise
      ? client.then((ready) => this.#run(ready, key, cost, carry))
      : this.#run(client, key, cost, carry)
  }

  #run(client: RedisClient, key: string, cost: number, carry: number): Promise<StoreOutcome> {
    return this.#script.run(client, key, [cost, carry, ...this.#params]).then(parseReply)
  }
}

/** The script's reply, checked: six integers. */
function parseReply(reply: unknown): StoreOutcome {
  if (!Array.isArray(reply) || reply.length !== 6 || !numbers(reply))
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

function numbers(values: readonly unknown[]): values is number[] {
  for (const value of values) if (typeof value !== 'number') return false
  return true
}

import type { RedisClient } from '@scalekit/internal'
import type { Algorithm, Params } from '../../algorithms'
import type { Store, StoreOutcome } from '../store'
import { scriptCall, type ScriptCall } from './scripts'

/** The store on Redis: one script call per decision, on the key alone, with the server's clock. */
export class RedisStore implements Store {
  readonly #client: () => RedisClient | Promise<RedisClient>
  readonly #call: ScriptCall

  /** `client` hands the client to call (a client made from a URL is made on first use). */
  constructor(client: () => RedisClient | Promise<RedisClient>, algorithm: Algorithm, p: Params) {
    this.#client = client
    this.#call = scriptCall(algorithm, p)
  }

  async take(key: string, cost: number, carry: number): Promise<StoreOutcome> {
    return this.outcome(await this.send(await this.#client(), key, cost, carry), cost)
  }

  /** The script call of one request on `client`: its raw reply, which `outcome` reads. */
  send(client: RedisClient, key: string, cost: number, carry: number): Promise<unknown> {
    return this.#call.script.run(client, [key], this.#call.args(cost, carry))
  }

  /** The outcome in a reply of `send`; a malformed reply throws a TypeError. */
  outcome(reply: unknown, cost: number): StoreOutcome {
    return this.#call.outcome(reply, cost)
  }
}

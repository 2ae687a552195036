import type { RedisScript } from '@scalekit/internal'
import type { StoreOutcome } from '../store'

/**
 * How a store calls one algorithm's script: the script, its arguments for a request, and the
 * outcome read from its reply (checked: a malformed reply throws a TypeError).
 */
export interface ScriptCall {
  readonly script: RedisScript
  args(cost: number, carry: number): (string | number)[]
  outcome(reply: unknown, cost: number): StoreOutcome
}

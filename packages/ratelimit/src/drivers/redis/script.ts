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

/**
 * The `{code, now}` reply of the lean scripts (GCRA, fixed window): a number that is `-1 - x` when
 * refused, and the server's time in µs. A malformed reply throws a TypeError.
 */
export function codeAndNow(reply: unknown): readonly [code: number, nowUs: number] {
  if (
    !Array.isArray(reply) ||
    reply.length !== 2 ||
    typeof reply[0] !== 'number' ||
    typeof reply[1] !== 'number'
  )
    throw new TypeError(`unexpected reply from the rate-limit script: ${JSON.stringify(reply)}`)
  return reply as [number, number]
}

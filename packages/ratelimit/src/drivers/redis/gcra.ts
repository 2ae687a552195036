import type { Params } from '../../algorithms/types'
import { RedisScript } from '@scalekit/internal'
import { codeAndNow, type ScriptCall } from './script'

/**
 * GCRA, the default, kept to the least Redis work: the server's clock, one GET, one SET PX. ARGV:
 * the request's cost and the carried consumption in µs (`cost × interval`, `round(carry × interval)`),
 * and the tolerance (`burst × interval`). The TAT is stored as whole µs, formatted by the script so
 * every Redis version writes the same digits. The reply is `{ttl, now}`: the key's TAT minus now
 * (µs) when allowed, `-1 - ttl` when refused, and the time read. The client derives the rest of the
 * outcome from those (`gcraCall`), with the model's arithmetic.
 */
const GCRA = `local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local raw = redis.call('GET', KEYS[1])
local tat = now
if raw then
  tat = tonumber(raw)
  if tat < now then tat = now end
end
tat = tat + ARGV[2]
local stored = tat + ARGV[1]
local allowed = stored - now <= tonumber(ARGV[3])
if not allowed then stored = tat end
local ttl = stored - now
if ttl > 0 then redis.call('SET', KEYS[1], string.format('%.0f', stored), 'PX', math.ceil(ttl / 1000)) elseif raw then redis.call('DEL', KEYS[1]) end
if allowed then return {ttl, now} end
return {-1 - ttl, now}`

const gcraScript = new RedisScript(GCRA)

/** GCRA's script call with the parameters `p`: the outcome derived from the reply as the model computes it. */
export function gcraCall(p: Params): ScriptCall {
  const t = p.intervalUs
  const tolerance = p.burst * t
  return {
    script: gcraScript,
    args: (cost, carry) => [cost * t, carry > 0 ? Math.round(carry * t) : 0, tolerance],
    outcome(reply, cost) {
      const [code, nowUs] = codeAndNow(reply)
      const allowed = code >= 0
      const ttl = allowed ? code : -1 - code
      return {
        allowed,
        remaining: Math.max(0, Math.floor((tolerance - ttl) / t)),
        resetAfterUs: ttl,
        retryAfterUs: allowed ? 0 : ttl + cost * t - tolerance,
        emptyForUs: Math.max(0, ttl + t - tolerance),
        nowUs,
      }
    },
  }
}

import type { Params } from '../../algorithms/types'
import { RedisScript } from '@scalekit/internal'
import { codeAndNow, type ScriptCall } from './script'

/**
 * The fixed window in the GCRA script's shape: the server's clock, one GET, one SET PX. ARGV: the
 * request's cost, the carried consumption (whole units), the period (µs) and the limit. The state is
 * `window|count` (the window's index, `floor(now / period)`, and its count), as before, so instances
 * on either script share keys. The reply is `{count, now}`: the window's count after the decision
 * when allowed, `-1 - count` when refused, and the time read; the client derives the rest of the
 * outcome from those (`fixedWindowCall`), with the model's arithmetic.
 */
const FIXED_WINDOW = `local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local period = tonumber(ARGV[3])
local window = math.floor(now / period)
local count = 0
local raw = redis.call('GET', KEYS[1])
if raw then
  local w, c = string.match(raw, '^([^|]+)|(.+)$')
  if tonumber(w) == window then count = tonumber(c) end
end
count = count + ARGV[2]
local allowed = count + ARGV[1] <= tonumber(ARGV[4])
if allowed then count = count + ARGV[1] end
if count > 0 then redis.call('SET', KEYS[1], string.format('%.0f|%.0f', window, count), 'PX', math.ceil(((window + 1) * period - now) / 1000)) elseif raw then redis.call('DEL', KEYS[1]) end
if allowed then return {count, now} end
return {-1 - count, now}`

const fixedWindowScript = new RedisScript(FIXED_WINDOW)

/** The fixed window's script call with the parameters `p`: the outcome derived from the reply as the model computes it. */
export function fixedWindowCall(p: Params): ScriptCall {
  const { limit, periodUs } = p
  return {
    script: fixedWindowScript,
    args: (cost, carry) => [cost, Math.ceil(carry), periodUs, limit],
    outcome(reply) {
      const [code, nowUs] = codeAndNow(reply)
      const allowed = code >= 0
      const count = allowed ? code : -1 - code
      const endsIn = (Math.floor(nowUs / periodUs) + 1) * periodUs - nowUs
      return {
        allowed,
        remaining: Math.max(0, limit - count),
        resetAfterUs: count > 0 ? endsIn : 0,
        retryAfterUs: allowed ? 0 : endsIn,
        emptyForUs: count >= limit ? endsIn : 0,
        nowUs,
      }
    },
  }
}

import type { Algorithm, Params } from '../../algorithms/types'
import { fixedWindowCall } from './fixed-window'
import { gcraCall } from './gcra'
import { RedisScript } from '@scalekit/internal'
import type { ScriptCall } from './script'

export type { ScriptCall } from './script'

/**
 * The other algorithms' scripts (GCRA's and the fixed window's are in their own files, in a leaner
 * shape): KEYS[1] the key's state; ARGV cost, carry, limit, periodUs, burst, intervalUs. Each reads the server's clock (TIME, µs) so instance clocks do not matter, touches
 * that one key (Redis Cluster safe), and returns {allowed, remaining, resetAfterUs, retryAfterUs,
 * emptyForUs, nowUs}. Each mirrors its model in src/algorithms line by line, in the same double
 * arithmetic.
 */
const HEAD = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local cost = tonumber(ARGV[1])
local carry = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local period = tonumber(ARGV[4])
local burst = tonumber(ARGV[5])
local interval = tonumber(ARGV[6])
local function ms(us) return math.max(1, math.ceil(us / 1000)) end
`

const TOKEN_BUCKET = `${HEAD}
local tokens = burst
local raw = redis.call('GET', KEYS[1])
if raw then
  local level, at = string.match(raw, '^([^|]+)|(.+)$')
  tokens = math.min(burst, tonumber(level) + (now - tonumber(at)) / interval)
end
if carry > 0 then tokens = tokens - carry end
local allowed = tokens >= cost
if allowed then tokens = tokens - cost end
local reset = math.ceil((burst - tokens) * interval)
if reset > 0 then redis.call('SET', KEYS[1], string.format('%.17g|%.0f', tokens, now), 'PX', ms(reset)) elseif raw then redis.call('DEL', KEYS[1]) end
local retry = 0
if not allowed then retry = math.ceil((cost - tokens) * interval) end
local empty = 0
if tokens < 1 then empty = math.ceil((1 - tokens) * interval) end
return {allowed and 1 or 0, math.max(0, math.floor(tokens)), reset, retry, empty, now}`

const SLIDING_WINDOW = `${HEAD}
local window = math.floor(now / period)
local elapsed = now - window * period
local current = 0
local previous = 0
local raw = redis.call('GET', KEYS[1])
if raw then
  local w, c, p = string.match(raw, '^([^|]+)|([^|]+)|(.+)$')
  w = tonumber(w)
  if w == window then current = tonumber(c) previous = tonumber(p)
  elseif w == window - 1 then previous = tonumber(c) end
end
current = current + math.ceil(carry)
local estimate = (previous * (period - elapsed)) / period + current
local allowed = estimate + cost <= limit
if allowed then current = current + cost end
local after = (previous * (period - elapsed)) / period + current
local function wait_until(room)
  if current <= room and previous > 0 then return math.max(0, math.ceil(period - ((room - current) * period) / previous) - elapsed) end
  return period - elapsed + math.ceil(period - (room * period) / current)
end
local ttl = period - elapsed
if current > 0 then ttl = 2 * period - elapsed end
if current > 0 or previous > 0 then redis.call('SET', KEYS[1], string.format('%.0f|%.0f|%.0f', window, current, previous), 'PX', ms(ttl)) elseif raw then redis.call('DEL', KEYS[1]) end
local reset = 0
if current > 0 then reset = 2 * period - elapsed elseif previous > 0 then reset = period - elapsed end
local retry = 0
if not allowed then retry = wait_until(limit - cost) end
local empty = 0
if after + 1 > limit then empty = wait_until(limit - 1) end
return {allowed and 1 or 0, math.max(0, math.floor(limit - after)), reset, retry, empty, now}`

const SLIDING_LOG = `${HEAD}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', string.format('%.0f', now - period))
local n = redis.call('ZCARD', KEYS[1])
local stamp = string.format('%.0f', now)
local function add(k)
  for i = 1, k do n = n + 1 redis.call('ZADD', KEYS[1], stamp, stamp .. ':' .. n) end
end
add(math.ceil(carry))
local allowed = n + cost <= limit
if allowed then add(cost) end
local function leaves(k)
  local e = redis.call('ZRANGE', KEYS[1], k - 1, k - 1, 'WITHSCORES')
  if e[2] then return tonumber(e[2]) + period - now end
  return period
end
local reset = 0
if n > 0 then
  local newest = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
  reset = tonumber(newest[2]) + period - now
  redis.call('PEXPIRE', KEYS[1], ms(reset))
end
local retry = 0
if not allowed then retry = leaves(n + cost - limit) end
local empty = 0
if n >= limit then empty = leaves(n - limit + 1) end
return {allowed and 1 or 0, math.max(0, limit - n), reset, retry, empty, now}`

/** A script returning the whole outcome: {allowed, remaining, resetAfterUs, retryAfterUs, emptyForUs, nowUs}. */
function fullCall(script: RedisScript, p: Params): ScriptCall {
  const params = [p.limit, p.periodUs, p.burst, p.intervalUs]
  return {
    script,
    args: (cost, carry) => [cost, carry, ...params],
    outcome(reply) {
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
    },
  }
}

const others = {
  'token-bucket': new RedisScript(TOKEN_BUCKET),
  'sliding-window': new RedisScript(SLIDING_WINDOW),
  'sliding-log': new RedisScript(SLIDING_LOG),
} as const

/** How to call the script of `algorithm` with the parameters `p`. */
export function scriptCall(algorithm: Algorithm, p: Params): ScriptCall {
  if (algorithm === 'gcra') return gcraCall(p)
  if (algorithm === 'fixed-window') return fixedWindowCall(p)
  return fullCall(others[algorithm], p)
}

import { RedisScript } from '@scalekit/internal'

const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

/**
 * An entry is one string: `ver|created|expiresAt|staleUntil|delta|tombstone|tagsLength|` + tags
 * (ASCII JSON) + the encoded value, so a hit is one plain GET. Times are Redis's clock (ms).
 */
const HEADER = `'^(%d+)|(%d+)|(%d+)|(%d+)|(%d+)|(%d)|'`

/**
 * Reads an entry and, with a lock token, takes the key's lock when the entry is missing, a
 * tombstone or expired. KEYS: entry, lock. ARGV: token ('' = read only), leaseMs.
 * Returns [now, entry or nil, locked (0/1), lockPttl].
 */
export const readScript: RedisScript = new RedisScript(`${NOW}
local raw = redis.call('GET', KEYS[1])
local locked = 0
local pttl = -2
if ARGV[1] ~= '' then
  local usable = false
  if raw then
    local _, _, exp, _, _, tomb = string.match(raw, ${HEADER})
    usable = exp ~= nil and tomb == '0' and tonumber(exp) > now
  end
  if not usable then
    if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then locked = 1 else pttl = redis.call('PTTL', KEYS[2]) end
  end
end
return {now, raw, locked, pttl}`)

/**
 * Writes an entry with a new version and announces it on the bus. KEYS: entry, lock.
 * ARGV: value, ttlMs, graceMs, tags, delta, expectedVer ('' = unconditional), created ('' = now),
 * lockToken ('' = none), busChannel ('' = none), busPrefix, key.
 * With expectedVer, writes only if the stored version still equals it ('0' = absent): a refresh
 * never overwrites a newer value or a delete. Returns [written (0/1), ver, now].
 */
export const writeScript: RedisScript = new RedisScript(`${NOW}
local raw = redis.call('GET', KEYS[1])
local cur = 0
if raw then cur = tonumber(string.match(raw, '^(%d+)|') or '0') end
local function release()
  if ARGV[8] ~= '' and redis.call('GET', KEYS[2]) == ARGV[8] then redis.call('DEL', KEYS[2]) end
end
if ARGV[6] ~= '' and cur ~= tonumber(ARGV[6]) then release() return {0, cur, now} end
local ver = math.max(cur + 1, now)
local c = now
if ARGV[7] ~= '' then c = tonumber(ARGV[7]) end
local ttl = tonumber(ARGV[2])
local grace = tonumber(ARGV[3])
local header = string.format('%d|%d|%d|%d|%d|0|%d|', ver, c, now + ttl, now + ttl + grace, tonumber(ARGV[5]), #ARGV[4])
redis.call('SET', KEYS[1], header .. ARGV[4] .. ARGV[1], 'PX', ttl + grace + 1000)
release()
if ARGV[9] ~= '' then redis.call('PUBLISH', ARGV[9], ARGV[10] .. ver .. '|' .. ARGV[11]) end
return {1, ver, now}`)

/**
 * Replaces an entry by a tombstone (a newer version with no value) so that an in-flight refresh
 * that read the old version cannot write it back. KEYS: entry. ARGV: tombstoneMs, busChannel, busPrefix, key.
 */
export const deleteScript: RedisScript = new RedisScript(`${NOW}
local raw = redis.call('GET', KEYS[1])
local cur = 0
if raw then cur = tonumber(string.match(raw, '^(%d+)|') or '0') end
local ver = math.max(cur + 1, now)
redis.call('SET', KEYS[1], string.format('%d|%d|0|0|0|1|0|', ver, now), 'PX', ARGV[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3] .. ver .. '|' .. ARGV[4]) end
return ver`)

/**
 * Records the invalidation time of tags (Redis's clock, like entry creation times) in one sorted
 * set per namespace, forgets those older than the retention, and announces them.
 * KEYS: tags zset. ARGV: retentionMs, busChannel, busPrefix, tag...
 */
export const invalidateTagsScript: RedisScript = new RedisScript(`${NOW}
for i = 4, #ARGV do redis.call('ZADD', KEYS[1], now, ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3] .. now .. '|' .. cjson.encode({unpack(ARGV, 4)})) end
return now`)

/** Extends a lock the caller still holds. KEYS: lock. ARGV: token, leaseMs. Returns 1 if held. */
export const renewLockScript: RedisScript = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)

/** Releases a lock only if the caller still holds it. KEYS: lock. ARGV: token. */
export const releaseLockScript: RedisScript = new RedisScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

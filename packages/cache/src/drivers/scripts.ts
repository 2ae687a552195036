import { createHash } from 'node:crypto'
import type { RedisClient } from './redis-client'

/**
 * A Lua script run by SHA (EVALSHA), loaded on first NOSCRIPT. Every script touches only keys that
 * share one hash tag, so it runs unchanged on Redis Cluster.
 */
export class Script {
  readonly #source: string
  readonly #sha: string

  constructor(source: string) {
    this.#source = source
    this.#sha = createHash('sha1').update(source).digest('hex')
  }

  async run(client: RedisClient, keys: readonly string[], args: readonly (string | number)[]): Promise<unknown> {
    try {
      return await client.evalsha(this.#sha, keys.length, ...keys, ...args)
    } catch (error) {
      if (error instanceof Error && error.message.startsWith('NOSCRIPT')) {
        return client.eval(this.#source, keys.length, ...keys, ...args)
      }
      throw error
    }
  }
}

const NOW = `local t = redis.call('TIME') local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

/**
 * Reads an entry; with a lock token, also takes the stampede lock when the entry is missing or
 * expired. KEYS: entry, lock. ARGV: token ('' = read only), leaseMs.
 * Returns [now, v, ver, c, exp, gr, t, d, tomb, locked (0/1), lockPttl].
 */
export const readScript: Script = new Script(`${NOW}
local e = redis.call('HMGET', KEYS[1], 'v', 'ver', 'c', 'exp', 'gr', 't', 'd', 'tomb')
local locked = 0
local pttl = -2
if ARGV[1] ~= '' and (e[1] == false or e[8] ~= false or tonumber(e[5]) <= now) then
  if redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', ARGV[2]) then locked = 1 else pttl = redis.call('PTTL', KEYS[2]) end
end
return {now, e[1], e[2], e[3], e[4], e[5], e[6], e[7], e[8], locked, pttl}`)

/**
 * Writes an entry with a new version and announces it on the bus. KEYS: entry, lock.
 * ARGV: v, ttlMs, graceMs, tags, delta, expectedVer ('' = unconditional), created ('' = now),
 * lockToken ('' = none), busChannel ('' = none), busPrefix.
 * With expectedVer, writes only if the stored version still equals it ('0' = absent): a refresh
 * never overwrites a newer value or a delete. Returns [written (0/1), ver, now].
 */
export const writeScript: Script = new Script(`${NOW}
local cur = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
local function release()
  if ARGV[8] ~= '' and redis.call('GET', KEYS[2]) == ARGV[8] then redis.call('DEL', KEYS[2]) end
end
if ARGV[6] ~= '' and cur ~= tonumber(ARGV[6]) then release() return {0, cur, now} end
local ver = math.max(cur + 1, now)
local c = now
if ARGV[7] ~= '' then c = tonumber(ARGV[7]) end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'ver', ver, 'c', c, 'exp', now + tonumber(ARGV[2]), 'gr', now + tonumber(ARGV[2]) + tonumber(ARGV[3]), 't', ARGV[4], 'd', ARGV[5])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + tonumber(ARGV[3]) + 1000)
release()
if ARGV[9] ~= '' then redis.call('PUBLISH', ARGV[9], ARGV[10] .. ver .. '|' .. ARGV[11]) end
return {1, ver, now}`)

/**
 * Replaces an entry by a tombstone (a newer version with no value) so that an in-flight refresh
 * that read the old version cannot write it back. KEYS: entry. ARGV: tombstoneMs, busChannel, busPrefix, key.
 */
export const deleteScript: Script = new Script(`${NOW}
local cur = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0')
local ver = math.max(cur + 1, now)
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], 'ver', ver, 'c', now, 'tomb', '1')
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3] .. ver .. '|' .. ARGV[4]) end
return ver`)

/**
 * Records the invalidation time of tags (Redis's clock, like entry creation times) in one sorted
 * set per namespace, forgets those older than the retention, and announces them.
 * KEYS: tags zset. ARGV: retentionMs, busChannel, busPrefix, tag...
 */
export const invalidateTagsScript: Script = new Script(`${NOW}
for i = 4, #ARGV do redis.call('ZADD', KEYS[1], now, ARGV[i]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - tonumber(ARGV[1]))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3] .. now .. '|' .. cjson.encode({unpack(ARGV, 4)})) end
return now`)

/** Extends a lock the caller still holds. KEYS: lock. ARGV: token, leaseMs. Returns 1 if held. */
export const renewLockScript: Script = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`)

/** Releases a lock only if the caller still holds it. KEYS: lock. ARGV: token. */
export const releaseLockScript: Script = new Script(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`)

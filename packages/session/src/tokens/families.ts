import { RedisScript } from '@scalekit/internal'
import type { DeadlineSweep } from '@scalekit/internal'
import { callRedis } from '../internal/redis-calls'
import type { RedisClient } from '../redis'

/**
 * Starts a refresh family. KEYS: family. ARGV: user, current jti, ttl ms, iat, exp.
 */
const startScript = new RedisScript(`
redis.call('HSET', KEYS[1], 'sub', ARGV[1], 'cur', ARGV[2], 'curIat', ARGV[4], 'curExp', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`)

/**
 * Rotates a family atomically (RFC 9700 §4.14.2). KEYS: family. ARGV: presented jti, new jti, now
 * ms, grace ms, ttl ms, new iat, new exp. Replies:
 * - `{'rotated'}`: the presented token was current; the new one is now current, it is retired;
 * - `{'grace', jti, iat, exp}`: it was retired less than grace ms ago (a concurrent tab; grace 0 is none): the
 *   current successor's claims, to sign the same token again;
 * - `{'reused', retiredForMs}`: it was retired earlier, or is unknown in a live family: the family
 *   is revoked;
 * - `{'revoked'}` / `{'unknown'}`: the family was revoked before, or has expired.
 */
const rotateScript = new RedisScript(`
local f = redis.call('HMGET', KEYS[1], 'cur', 'prev', 'prevAt', 'revoked', 'curIat', 'curExp')
if not f[1] then return {'unknown'} end
if f[4] == '1' then return {'revoked'} end
local now = tonumber(ARGV[3])
if f[1] == ARGV[1] then
  redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'prev', ARGV[1], 'prevAt', ARGV[3], 'curIat', ARGV[6], 'curExp', ARGV[7])
  redis.call('PEXPIRE', KEYS[1], ARGV[5])
  return {'rotated'}
end
if f[2] == ARGV[1] and now - tonumber(f[3]) < tonumber(ARGV[4]) then
  return {'grace', f[1], f[5], f[6]}
end
redis.call('HSET', KEYS[1], 'revoked', '1')
local since = -1
if f[2] == ARGV[1] then since = now - tonumber(f[3]) end
return {'reused', since}`)

/** Marks a family revoked (logout). KEYS: family. */
const endScript = new RedisScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'revoked', '1') end
return 1`)

/** What a rotation found. */
export type Rotation =
  | { readonly outcome: 'rotated' }
  | { readonly outcome: 'grace'; readonly jti: string; readonly iat: number; readonly exp: number }
  | { readonly outcome: 'reused'; readonly retiredForMs: number | undefined }
  | { readonly outcome: 'revoked' | 'unknown' }

/** A new refresh token's claims, as the rotation records them. */
export interface Successor {
  readonly jti: string
  readonly iat: number
  readonly exp: number
}

/**
 * Where refresh families live (RFC 9700 rotation with reuse detection): Redis, shared by every
 * instance, or this process's memory. Both give the same answers for the same calls — the test
 * suite `test/suite/families.ts` runs on each.
 */
export interface FamilyStore {
  /** Starts a family whose current refresh token is `first`, living `ttlMs` from `now`. */
  start(family: string, sub: string, first: Successor, ttlMs: number, now: number): Promise<void>
  /**
   * Retires `presented` for `next` in one atomic step, or says why not: a token retired less than
   * `graceMs` ago gets the current successor back; any other retired or unknown token revokes the
   * family. A rotation extends the family's life to `ttlMs` from `now`.
   */
  rotate(
    family: string,
    presented: string,
    next: Successor,
    graceMs: number,
    ttlMs: number,
    now: number,
  ): Promise<Rotation>
  /** Marks the family revoked (logout); a missing one stays missing. */
  end(family: string): Promise<void>
}

/** Refresh families in Redis: one hash per family, hash-tagged by its id (Cluster-safe). */
export class RedisFamilies implements FamilyStore {
  readonly #redis: RedisClient
  readonly #prefix: string
  readonly #sweep: DeadlineSweep
  readonly #timeoutMs: number

  constructor(redis: RedisClient, prefix: string, sweep: DeadlineSweep, timeoutMs: number) {
    this.#redis = redis
    this.#prefix = prefix
    this.#sweep = sweep
    this.#timeoutMs = timeoutMs
  }

  #key(family: string): string {
    return `${this.#prefix}:fam:{${family}}`
  }

  async start(family: string, sub: string, first: Successor, ttlMs: number): Promise<void> {
    await this.#call(
      'starting a refresh family',
      startScript.run(this.#redis, [this.#key(family)], [sub, first.jti, ttlMs, first.iat, first.exp]),
    )
  }

  async rotate(
    family: string,
    presented: string,
    next: Successor,
    graceMs: number,
    ttlMs: number,
    now: number,
  ): Promise<Rotation> {
    const reply = (await this.#call(
      'rotating a refresh token',
      rotateScript.run(
        this.#redis,
        [this.#key(family)],
        [presented, next.jti, now, graceMs, ttlMs, next.iat, next.exp],
      ),
    )) as [string, ...(string | number)[]]
    const [outcome, a, b, c] = reply
    if (outcome === 'rotated') return { outcome }
    if (outcome === 'grace') return { outcome, jti: String(a), iat: Number(b), exp: Number(c) }
    if (outcome === 'reused') return { outcome, retiredForMs: Number(a) < 0 ? undefined : Number(a) }
    return { outcome: outcome === 'revoked' ? 'revoked' : 'unknown' }
  }

  async end(family: string): Promise<void> {
    await this.#call('ending a refresh family', endScript.run(this.#redis, [this.#key(family)], []))
  }

  #call(what: string, work: Promise<unknown>): Promise<unknown> {
    return callRedis(this.#sweep, this.#timeoutMs, what, work)
  }
}

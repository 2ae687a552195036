import { RedisScript } from '@scalekit/internal'
import type { DeadlineSweep, Warner } from '@scalekit/internal'
import { channels, publish } from '../channels'
import type { RevokeEvent } from '../channels'
import type { RevokedReason } from '../errors'
import { callRedis } from '../internal/redis-calls'
import type { RedisClient, RedisSubscriber } from '../redis'
import { memberOf, RevocationList, targetOf } from './revocation-list'
import type { RevocationCode, Revocations } from './revocation-list'

/**
 * Records a revocation, bumps the version and pushes it to every instance, in one script.
 * KEYS: list, epochs, version. ARGV: kind (`m` member / `e` epoch), member, score (ms), now (ms),
 * epochKeepMs, channel. The list holds `j:<jti>` and `f:<family>` until their tokens expire; the
 * epochs hold "log out everywhere" times of each user as long as a token issued before could live.
 */
const revokeScript = new RedisScript(`
local now = tonumber(ARGV[4])
if ARGV[1] == 'e' then redis.call('ZADD', KEYS[2], 'GT', ARGV[3], ARGV[2])
else redis.call('ZADD', KEYS[1], 'GT', ARGV[3], ARGV[2]) end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[5]))
local v = redis.call('INCR', KEYS[3])
redis.call('PUBLISH', ARGV[6], v .. '|' .. ARGV[1] .. '|' .. ARGV[3] .. '|' .. ARGV[2])
return v`)

/** The whole state: {version, list (member, score…), epochs (member, score…)}. KEYS: list, epochs, version. ARGV: now. */
const loadScript = new RedisScript(`
return {redis.call('GET', KEYS[3]) or '0',
  redis.call('ZRANGEBYSCORE', KEYS[1], ARGV[1], '+inf', 'WITHSCORES'),
  redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')}`)

/** The version alone, for the periodic check. KEYS: version. */
const versionScript = new RedisScript(`return redis.call('GET', KEYS[1]) or '0'`)

/** One user's epoch, read at refresh time. KEYS: epochs. ARGV: user. */
const epochScript = new RedisScript(`return redis.call('ZSCORE', KEYS[1], ARGV[1])`)

/** What the revocation state needs from the token factory. */
export interface RevocationConfig {
  readonly redis: RedisClient
  readonly prefix: string
  readonly timeoutMs: number
  readonly syncMs: number
  /** How long an epoch must be kept: the longest token lifetime. */
  readonly epochKeepMs: number
  readonly sweep: DeadlineSweep
  readonly warner: Warner
  /** Called whenever the local state changes (the verified-token cache drops its entries then). */
  readonly onChange: () => void
}

/**
 * Every instance's copy of the revocations: token ids and refresh families revoked until their
 * tokens expire, and each user's "log out everywhere" time. A revocation is written to Redis and
 * pushed over pub/sub; each instance applies pushes at once and also compares a version counter every
 * `syncMs`, so a lost message (a reconnect) is caught within `syncMs`. Verification reads only this
 * copy: it never waits on Redis, and keeps working on the last known state while Redis is away.
 */
export class RevocationState implements Revocations {
  readonly #config: RevocationConfig
  readonly #keys: readonly [string, string, string]
  readonly #channel: string
  readonly #list = new RevocationList()
  #version = -1
  #subscriber: RedisSubscriber | undefined
  #timer: NodeJS.Timeout | undefined
  #loading: Promise<void> | undefined
  #synced = false

  constructor(config: RevocationConfig) {
    this.#config = config
    const tag = `{${config.prefix}:rev}`
    this.#keys = [`${tag}:list`, `${tag}:epochs`, `${tag}:version`]
    this.#channel = `${config.prefix}:revocations`
  }

  /** True once the state was loaded from Redis at least once. */
  get synced(): boolean {
    return this.#synced
  }

  /** True while the subscriber connection is up. */
  get subscribed(): boolean {
    return this.#subscriber?.status === 'ready'
  }

  /** Subscribes and loads the state; the periodic version check starts. Idempotent. */
  start(): void {
    if (this.#subscriber !== undefined) return
    const subscriber = this.#config.redis.duplicate()
    this.#subscriber = subscriber
    subscriber.on('error', (error: Error) => {
      this.#config.warner.warn(
        'subscriber',
        { code: 'ERR_SESSION_STORE_UNAVAILABLE', error: error.message },
        'revocation subscriber: Redis connection error',
      )
    })
    subscriber.on('message', (channel: string, message: string) => {
      if (channel === this.#channel) this.#apply(message)
    })
    // Every (re)connection reloads: what was published while disconnected is in Redis.
    subscriber.on('ready', () => {
      void this.sync(true)
    })
    subscriber.subscribe(this.#channel).catch(() => undefined)
    this.#timer = setInterval(() => {
      void this.sync(false)
    }, this.#config.syncMs)
    this.#timer.unref()
  }

  check(jti: unknown, family: unknown, sub: unknown, iat: unknown): RevokedReason | undefined {
    return this.#list.check(jti, family, sub, iat)
  }

  epochKnown(sub: string): number | undefined {
    return this.#list.epoch(sub)
  }

  /** The user's epoch as Redis has it now (for refresh, which calls Redis anyway). */
  async epochOf(sub: string): Promise<number | undefined> {
    const { redis, sweep, timeoutMs } = this.#config
    const score = await callRedis(
      sweep,
      timeoutMs,
      'reading an epoch',
      epochScript.run(redis, [this.#keys[1]], [sub]),
    )
    return score === null ? undefined : Number(score)
  }

  /** Revokes a token id or family until `until` (ms), or every token of a user issued before now. */
  async revoke(kind: 'token' | 'family' | 'user', id: string, until: number): Promise<void> {
    const { redis, sweep, timeoutMs, epochKeepMs } = this.#config
    const [code, member] = memberOf(kind, id)
    // Applied here at once: this instance enforces it even before the push comes back.
    this.#store(code, member, until)
    this.#emit(kind, 'local')
    await callRedis(
      sweep,
      timeoutMs,
      'recording a revocation',
      revokeScript.run(redis, this.#keys, [code, member, until, Date.now(), epochKeepMs, this.#channel]),
    )
  }

  /** Reloads from Redis when the version moved (or always with `force`); errors are logged, not thrown. */
  async sync(force: boolean): Promise<void> {
    if (this.#loading !== undefined) return this.#loading
    const { redis, sweep, timeoutMs } = this.#config
    this.#loading = (async () => {
      try {
        if (!force && this.#synced) {
          const version = Number(
            await callRedis(
              sweep,
              timeoutMs,
              'reading the revocation version',
              versionScript.run(redis, [this.#keys[2]], []),
            ),
          )
          if (version === this.#version) return
        }
        const reply = (await callRedis(
          sweep,
          timeoutMs,
          'loading revocations',
          loadScript.run(redis, this.#keys, [Date.now()]),
        )) as [string, string[], string[]]
        // A union, never a replacement: revocations are never undone, and one made here while this
        // load was in flight must not be dropped by an older snapshot.
        for (let i = 0; i < reply[1].length; i += 2)
          this.#store('m', reply[1][i] as string, Number(reply[1][i + 1]))
        for (let i = 0; i < reply[2].length; i += 2)
          this.#store('e', reply[2][i] as string, Number(reply[2][i + 1]))
        this.#list.prune(Date.now(), this.#config.epochKeepMs)
        this.#version = Math.max(this.#version, Number(reply[0]))
        this.#synced = true
        this.#config.onChange()
        this.#config.warner.recover('revocation-sync')
      } catch (error) {
        this.#config.warner.warn(
          'revocation-sync',
          { code: (error as { code?: string }).code },
          'could not load revocations from Redis: verification goes on with the last known state',
        )
      } finally {
        this.#loading = undefined
      }
    })()
    return this.#loading
  }

  /** Stops the check and closes the subscriber connection (which this package opened). */
  async stop(): Promise<void> {
    clearInterval(this.#timer)
    const subscriber = this.#subscriber
    if (subscriber === undefined) return
    try {
      await callRedis(this.#config.sweep, this.#config.timeoutMs, 'closing the subscriber', subscriber.quit())
    } catch {
      subscriber.disconnect()
    }
  }

  #apply(message: string): void {
    const [version, code, score, ...rest] = message.split('|')
    const member = rest.join('|')
    if (version === undefined || score === undefined || (code !== 'e' && code !== 'm')) return
    const fresh = this.#store(code, member, Number(score))
    const next = Number(version)
    // A gap means a push was missed: reload the whole state.
    if (this.#synced && next !== this.#version + 1 && next > this.#version) void this.sync(true)
    else this.#version = Math.max(this.#version, next)
    if (fresh) this.#emit(targetOf(code, member), 'remote')
  }

  /** Records a revocation locally; false when it was known already (our own push coming back). */
  #store(code: RevocationCode, member: string, score: number): boolean {
    if (!this.#list.add(code, member, score)) return false
    this.#config.onChange()
    return true
  }

  #emit(target: RevokeEvent['target'], source: RevokeEvent['source']): void {
    publish(channels.revoke, (): RevokeEvent => ({ target, source }))
  }
}

import { randomUUID } from 'node:crypto'
import {
  channelPrefix,
  type Checks,
  createChecks,
  DeadlineSweep,
  describeValue,
  type Duration,
  type RedisCommands,
} from '@scalekit/internal'
import { QueueOptionsError, timedOut } from './errors'

/**
 * What a dedup store says about a message id: `claimed` — run the handler; `done` — handled
 * before, acknowledge without running it; `busy` — another consumer is handling it right now.
 */
export type DedupClaim = 'claimed' | 'done' | 'busy'

/**
 * Remembers which message ids were handled, so a redelivered (or re-sent) message runs its effect
 * once. Implement it over your own database to make the mark part of the handler's transaction.
 * The consumer passes each call the message's key in its group and type, `<group>:<type>:<messageId>`
 * so one store serves many consumers.
 */
export interface DedupStore {
  /** Claims `messageId` for `leaseMs` (a claim whose holder died frees itself after it). */
  claim(messageId: string, leaseMs: number): Promise<DedupClaim>
  /** The handler succeeded: remember the id as done. */
  complete(messageId: string): Promise<void>
  /** The handler failed: drop the claim so a retry may run. */
  release(messageId: string): Promise<void>
}

/**
 * The key the consumer hands a {@link DedupStore} for one message: `<group>:<type>:<messageId>`.
 * A message is a duplicate only for the same group and type, so one store can serve every consumer.
 * Group and type names cannot contain `:` (checked where they are defined), so the first two `:`
 * end them and no two (group, type, id) triples share a key, whatever the id holds.
 */
export function dedupKey(group: string, type: string, messageId: string): string {
  return `${group}:${type}:${messageId}`
}

/**
 * The one ioredis method the Redis store calls: an ioredis 5 or 6 `Redis` or `Cluster` fits,
 * whichever copy the app installed. The package never imports ioredis, so `npm install
 * @scalekit/queue` alone works and ioredis is no dependency of it.
 */
export type DedupRedisClient = Pick<RedisCommands, 'eval'>

/** Options of {@link createRedisDedupStore}. */
export interface RedisDedupStoreOptions {
  /** Your ioredis 5 or 6 `Redis` or `Cluster`; never closed by the store. */
  redis: DedupRedisClient
  /** Key prefix. @default 'scalekit:queue:dedup:' */
  prefix?: string
  /** How long a handled id is remembered. @default 86_400_000 (1 day) */
  ttl?: Duration
  /** Upper bound of each Redis call; past it the attempt fails and is retried. @default 2_000 (2 s) */
  timeout?: Duration
}

/** Options of {@link createMemoryDedupStore}. */
export interface MemoryDedupStoreOptions {
  /** How long a handled id is remembered. @default 86_400_000 (1 day) */
  ttl?: Duration
}

/** The dedup stores' option checks: `ERR_QUEUE_INVALID_OPTIONS`. */
const checks: Checks = createChecks(QueueOptionsError)
/** The default key prefix of the Redis store: beside the package's channel names, one namespace. */
const DEFAULT_PREFIX = `${channelPrefix('queue')}:dedup:`

const CLAIM = `local v = redis.call('GET', KEYS[1])
if v == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 'claimed' end
if v == 'done' then return 'done' end
return 'busy'`
const COMPLETE = `redis.call('SET', KEYS[1], 'done', 'PX', ARGV[1]) return 1`
const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0`

/** A {@link DedupStore} in Redis: one key per message id (`SET` with a lease, then `done` with `ttl`). */
export function createRedisDedupStore(options: RedisDedupStoreOptions): DedupStore {
  const { redis, prefix = DEFAULT_PREFIX } = checks.group('options', options)
  if (typeof redis?.eval !== 'function')
    checks.fail(`redis must be an ioredis (5 or 6) Redis or Cluster client, got ${describeValue(redis)}`)
  if (typeof prefix !== 'string') checks.fail('prefix must be a string')
  const ttl = checks.duration('ttl', options.ttl, 86_400_000, { min: 1 })
  const timeout = checks.duration('timeout', options.timeout, 2_000, { min: 1 })
  // A claim is ours only: a release never drops another holder's claim.
  const owner = randomUUID()
  // Every call of a busy consumer is bounded: one timer for all of them.
  const deadlines = new DeadlineSweep()
  const onTimeout = timedOut('Redis (dedup store)', timeout)
  const call = async (script: string, id: string, ...args: (string | number)[]): Promise<unknown> =>
    deadlines.race(redis.eval(script, 1, prefix + id, ...args), timeout, onTimeout)
  return {
    async claim(id, leaseMs) {
      const result = await call(CLAIM, id, `${owner}:${id}`, leaseMs)
      return result === 'done' || result === 'busy' ? result : 'claimed'
    },
    async complete(id) {
      await call(COMPLETE, id, ttl)
    },
    async release(id) {
      await call(RELEASE, id, `${owner}:${id}`)
    },
  }
}

/** A {@link DedupStore} in this process' memory, for tests and a single instance. */
export function createMemoryDedupStore(options: MemoryDedupStoreOptions = {}): DedupStore {
  const ttl = checks.duration('ttl', checks.group('options', options).ttl, 86_400_000, { min: 1 })
  const entries = new Map<string, { state: 'busy' | 'done'; expires: number }>()
  const live = (id: string): { state: 'busy' | 'done'; expires: number } | undefined => {
    const e = entries.get(id)
    if (e !== undefined && e.expires <= Date.now()) {
      entries.delete(id)
      return undefined
    }
    return e
  }
  return {
    claim(id, leaseMs) {
      const e = live(id)
      if (e !== undefined) return Promise.resolve(e.state)
      entries.set(id, { state: 'busy', expires: Date.now() + leaseMs })
      return Promise.resolve('claimed')
    },
    complete(id) {
      entries.set(id, { state: 'done', expires: Date.now() + ttl })
      return Promise.resolve()
    },
    release(id) {
      if (live(id)?.state === 'busy') entries.delete(id)
      return Promise.resolve()
    },
  }
}

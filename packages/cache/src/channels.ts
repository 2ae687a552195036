import { type Channel, channel, type TracingChannel, tracingChannel } from 'node:diagnostics_channel'
import { channelName, channelPrefix } from '@scalekit/internal'

/**
 * Diagnostics channels of @scalekit/cache. Names and payloads are public API. Payloads carry the
 * namespace and outcomes, never keys or values (keys often hold user data). Publishing costs
 * nothing while nobody subscribes.
 */
export const CHANNEL_PREFIX: 'scalekit:cache' = channelPrefix('cache')

/** Where an answer came from. */
export type CacheTier = 'l1' | 'l2' | 'factory'
/**
 * How a read ended: `hit` fresh value, `miss` nothing usable, `stale` a value past its TTL served
 * within its grace period, `coalesced` the caller shared another caller's factory run or lock.
 */
export type CacheOutcome = 'hit' | 'miss' | 'stale' | 'coalesced'

/** Context of `scalekit:cache:get` (tracing channel): `get()` and `getOrSet()`. */
export interface CacheGetContext {
  namespace: string
  operation: 'get' | 'getOrSet'
  /** Set when the operation ends. */
  tier?: CacheTier
  /** Set when the operation ends. */
  outcome?: CacheOutcome
}

/** Context of `scalekit:cache:set` and `scalekit:cache:delete` (tracing channels). */
export interface CacheWriteContext {
  namespace: string
  operation: 'set' | 'delete' | 'invalidateTags' | 'clear' | 'writeThrough'
}

/** Payload of `scalekit:cache:lock`: the cross-instance stampede lock. */
export interface CacheLockEvent {
  namespace: string
  event: 'acquired' | 'waited' | 'released' | 'lost' | 'expired'
  /** How long the caller waited for another holder, for `waited`. */
  waitedMs?: number
}

/** Payload of `scalekit:breaker:state` (shared with the other scalekit packages). */
export interface BreakerStateEvent {
  package: 'cache'
  namespace: string
  state: 'open' | 'half-open' | 'closed'
}

/** Payload of `scalekit:cache:bus`: the cross-instance invalidation bus. */
export interface CacheBusEvent {
  namespace: string
  event: 'connected' | 'disconnected' | 'published' | 'received'
  /** The invalidation kind, for `published` and `received`. */
  kind?: 'set' | 'delete' | 'tags' | 'clear'
}

/** Payload of `scalekit:cache:error`: an entry that could not be decoded (a miss), an L2 failure, or a write-behind failure. */
export interface CacheErrorEvent {
  namespace: string
  /** Where it happened: `l2` (a Redis call, an undecodable entry) or `write-behind` (a queue's background loop). */
  tier: 'l1' | 'l2' | 'write-behind'
  /**
   * A documented code: the cache error's own (`ERR_CACHE_L2_UNAVAILABLE` for Redis failures,
   * `ERR_CACHE_DECODE` for undecodable entries…), or `ERR_CACHE_WRITE_BEHIND` when a write-behind
   * store's `write` threw or `close()` left entries unwritten. Never the bare base code `ERR_CACHE`.
   */
  code: string
}

/** Payload of `scalekit:cache:write-behind:flush`: one batch handed to the user's `write`. */
export interface WriteBehindFlushEvent {
  namespace: string
  queue: string
  /** Entries in the batch after coalescing per key. */
  size: number
  attempt: number
  durationMs: number
  ok: boolean
}

/** Payload of `scalekit:cache:write-behind:dead-letter`: entries given up after `maxAttempts`. */
export interface WriteBehindDeadLetterEvent {
  namespace: string
  queue: string
  size: number
  attempts: number
  reason: string
}

/** The channels of @scalekit/cache, created once per process. */
export interface CacheChannels {
  /** `scalekit:cache:get` — `get()` and `getOrSet()`, with tier and outcome. */
  readonly get: TracingChannel<unknown, CacheGetContext>
  /** `scalekit:cache:set` — `set()` and `writeThrough()`. */
  readonly set: TracingChannel<unknown, CacheWriteContext>
  /** `scalekit:cache:delete` — `delete()`, `invalidateTags()`, `clear()`. */
  readonly delete: TracingChannel<unknown, CacheWriteContext>
  /** `scalekit:cache:lock` — {@link CacheLockEvent}. */
  readonly lock: Channel
  /** `scalekit:breaker:state` — {@link BreakerStateEvent}. */
  readonly breaker: Channel
  /** `scalekit:cache:bus` — {@link CacheBusEvent}. */
  readonly bus: Channel
  /** `scalekit:cache:error` — {@link CacheErrorEvent}. */
  readonly error: Channel
  /** `scalekit:cache:write-behind:flush` — {@link WriteBehindFlushEvent}. */
  readonly writeBehindFlush: Channel
  /** `scalekit:cache:write-behind:dead-letter` — {@link WriteBehindDeadLetterEvent}. */
  readonly writeBehindDeadLetter: Channel
}

/** The channels, created once per process. */
export const channels: CacheChannels = {
  get: tracingChannel<unknown, CacheGetContext>(channelName('cache', 'get')),
  set: tracingChannel<unknown, CacheWriteContext>(channelName('cache', 'set')),
  delete: tracingChannel<unknown, CacheWriteContext>(channelName('cache', 'delete')),
  lock: channel(channelName('cache', 'lock')),
  breaker: channel(channelName('breaker', 'state')),
  bus: channel(channelName('cache', 'bus')),
  error: channel(channelName('cache', 'error')),
  writeBehindFlush: channel(channelName('cache', 'write-behind:flush')),
  writeBehindDeadLetter: channel(channelName('cache', 'write-behind:dead-letter')),
}

import { channel } from 'node:diagnostics_channel'
import type { Channel } from 'node:diagnostics_channel'
import { channelName, channelPrefix } from '@scalekit/internal'
import type { Algorithm } from './algorithms'
import type { FailurePolicy } from './options'

/**
 * Every diagnostics channel of @scalekit/ratelimit is named `scalekit:ratelimit:<operation>`. Names
 * and payload types are public API. Payloads carry the limiter's name, never the key (it holds user
 * ids, API keys, addresses). Publishing costs nothing while nobody subscribes.
 */
export const CHANNEL_PREFIX: 'scalekit:ratelimit' = channelPrefix('ratelimit')

/**
 * Who made a decision: `store` (Redis, or memory without Redis), `fast-path` (the key was known to
 * be empty: no round trip), or the `onRedisError` policy while Redis is slow or down —
 * `fail-open`, `fail-closed`, `local` (the in-process fallback).
 */
export type DecisionSource = 'store' | 'fast-path' | 'fail-open' | 'fail-closed' | 'local'

/** Payload of `scalekit:ratelimit:allowed` and `scalekit:ratelimit:limited`: one decision. */
export interface DecisionEvent {
  /** The limiter's `name`. */
  readonly limiter: string
  readonly algorithm: Algorithm
  readonly source: DecisionSource
  readonly cost: number
}

/** Payload of `scalekit:ratelimit:error`: Redis failed a decision, so the policy made it. */
export interface RateLimitErrorEvent {
  readonly limiter: string
  /** `ERR_RATELIMIT_UNAVAILABLE`. */
  readonly code: string
  /** The policy that decided instead. */
  readonly policy: FailurePolicy
  /** What happened: `timeout`, `connection`, `refused` (Redis answered with an error), `breaker-open`. */
  readonly reason: 'timeout' | 'connection' | 'refused' | 'breaker-open'
}

/** Payload of `scalekit:breaker:state` (shared with the other scalekit packages). */
export interface BreakerStateEvent {
  readonly package: 'ratelimit'
  /** The limiter's name. */
  readonly namespace: string
  readonly state: 'open' | 'half-open' | 'closed'
}

/** The channels of this package, created once per process. */
export const channels: {
  readonly allowed: Channel
  readonly limited: Channel
  readonly error: Channel
  readonly breaker: Channel
} = {
  allowed: channel(channelName('ratelimit', 'allowed')),
  limited: channel(channelName('ratelimit', 'limited')),
  error: channel(channelName('ratelimit', 'error')),
  breaker: channel(channelName('breaker', 'state')),
}

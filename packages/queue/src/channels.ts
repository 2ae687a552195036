import { channel, tracingChannel } from 'node:diagnostics_channel'
import type { Channel, TracingChannel } from 'node:diagnostics_channel'
import { channelName, channelPrefix } from '@scalekit/internal'

/**
 * Diagnostics channels of @scalekit/queue, named `scalekit:queue:<operation>`. Names and payloads
 * are public API. Payloads carry message type names, groups, ids and outcomes, never payloads.
 * Publishing costs nothing while nobody subscribes.
 */
export const CHANNEL_PREFIX: 'scalekit:queue' = channelPrefix('queue')

/** Context of `scalekit:queue:publish` (tracing channel): one `publish` call, from call to confirm. */
export interface QueuePublishContext {
  type: string
  messageId: string
  /** Encoded payload size. */
  bytes: number
  /** Requested delay, 0 when none. */
  delayMs: number
  /**
   * The W3C `traceparent` the message will carry, `''` for none. A subscriber may replace it in its
   * `start` handler (a tracing bridge puts its producer span here): the message carries the value
   * it has once `start` returns. It must stay a version-00 traceparent or `''`; anything else is
   * ignored (the message keeps the one it had).
   */
  traceparent: string
  /** Set on failure: the error's code. */
  code?: string
}

/** How a delivery ended. */
export type ConsumeOutcome = 'ack' | 'retry' | 'dead-letter' | 'duplicate' | 'requeue'

/** Context of `scalekit:queue:consume` (tracing channel): one delivery, from receipt to settlement. */
export interface QueueConsumeContext {
  type: string
  group: string
  messageId: string
  /** 1-based attempt number (retries through the delay ladder). */
  attempt: number
  /** Publish-to-handle latency: now minus the publish timestamp, ms (clock skew between hosts included). */
  latencyMs: number
  /**
   * The W3C `traceparent` the handler runs under (its `ctx.traceparent`): the publisher's, else a
   * hop in the trace the message id names; `''` for a delivery that is not a message of this package.
   */
  traceparent: string
  /** Set when the delivery is settled. */
  outcome?: ConsumeOutcome
  /** Set on failure: the error's code, or its name when it has none. */
  code?: string
}

/** Payload of `scalekit:queue:dead-letter`: a message moved to its group's dead-letter queue. */
export interface QueueDeadLetterEvent {
  type: string
  group: string
  messageId: string
  /** `failed` (attempts exhausted), `non-retryable`, `invalid` (schema), `undecodable`, `delivery-limit`. */
  reason: DeadLetterReason
  attempts: number
  /** The last error's message, if any. */
  error?: string
}

/** Why a message was dead-lettered. */
export type DeadLetterReason = 'failed' | 'non-retryable' | 'invalid' | 'undecodable' | 'delivery-limit'

/** Payload of `scalekit:queue:connection`: connection state changes. */
export interface QueueConnectionEvent {
  event:
    | 'connected'
    | 'disconnected'
    | 'blocked'
    | 'unblocked'
    | 'reconnecting'
    | 'consumer-attached'
    | 'consumer-detached'
    | 'error'
  /** For connection events: the connection that consumes (and declares), or one that publishes. */
  role?: 'consume' | 'publish'
  /** For `reconnecting`: the wait before the next attempt. */
  delayMs?: number
  /** For consumer events. */
  type?: string
  group?: string
  /** For `disconnected` and `error`: why, as the code of the error when coded. */
  code?: string
  message?: string
}

/** Payload of `scalekit:queue:depth`: the autoscaling signal, one per group queue, every `statsInterval`. */
export interface QueueDepthEvent {
  type: string
  group: string
  /** Messages ready in the group's queue. */
  messages: number
  /** Consumers attached to it, all instances together. */
  consumers: number
}

/** The channels, created once per process. */
export const channels: {
  readonly publish: TracingChannel<unknown, QueuePublishContext>
  readonly consume: TracingChannel<unknown, QueueConsumeContext>
  readonly deadLetter: Channel
  readonly connection: Channel
  readonly depth: Channel
} = {
  publish: tracingChannel<unknown, QueuePublishContext>(channelName('queue', 'publish')),
  consume: tracingChannel<unknown, QueueConsumeContext>(channelName('queue', 'consume')),
  deadLetter: channel(channelName('queue', 'dead-letter')),
  connection: channel(channelName('queue', 'connection')),
  depth: channel(channelName('queue', 'depth')),
}

import { channel, tracingChannel } from 'node:diagnostics_channel'
import type { Channel, TracingChannel } from 'node:diagnostics_channel'
import { channelName } from '@scalekit/internal'

/**
 * Context of `scalekit:db-router:shard` (tracing channel): one call of a sharded router on one shard —
 * `db.query()` routed by key, `db.transaction(key, …)`, or one shard's part of `db.queryAllShards()`.
 * Label metrics by `shard`, never by key.
 */
export interface ShardCallContext {
  shard: string
  operation: 'query' | 'transaction' | 'all-shards'
  /** How the shard was found: `option` (`{ shardKey }`), `statement` (the parser read the key), `placement` (a table's database), `key` (`transaction(key)`), `all` (every shard). */
  route: 'option' | 'statement' | 'placement' | 'key' | 'all'
  /** Set when the call fails: SQLSTATE or `ERR_DB_*` / Node error code. */
  errorCode?: string
}

/** Payload of `scalekit:db-router:bucket-move`: a step of a bucket move done. */
export interface BucketMoveEvent {
  bucket: number
  from: string
  to: string
  /** `fenced`, `copied`, `switched`, `cleaned`, `done`. */
  step: string
  rows?: number
}

/** The channels of sharding; names and payloads are public API. */
export const shardChannels: {
  readonly shard: TracingChannel<unknown, ShardCallContext>
  readonly bucketMove: Channel
} = {
  shard: tracingChannel<unknown, ShardCallContext>(channelName('db-router', 'shard')),
  bucketMove: channel(channelName('db-router', 'bucket-move')),
}

/** Runs `call` traced on the shard channel when someone listens; untraced otherwise (nothing paid). */
export function traceShard<T>(context: ShardCallContext, call: () => Promise<T>): Promise<T> {
  const ch = shardChannels.shard
  if (!ch.hasSubscribers) return call()
  return ch.tracePromise(async () => {
    try {
      return await call()
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code
      if (typeof code === 'string') context.errorCode = code
      throw error
    }
  }, context)
}

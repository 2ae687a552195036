export { Cache, type CacheStats, createCache } from './cache'
export type { CacheOptions, GetOrSetOptions, RedisInput, SetOptions } from './options'
export { defaults } from './options'
export type { Factory, FactoryContext } from './internal/factory-run'
export type { Duration } from './internal/duration'
export { type Codec, jsonCodec } from './codec'
export { createEncryption, type Encryption, type EncryptionKey, type EncryptionOptions } from './encryption'
export type { WriteBehind, WriteBehindBackoff, WriteBehindDeadLetter, WriteBehindEntry, WriteBehindOptions, WriteBehindQueue } from './write-behind/index'
export {
  CacheClosedError,
  CacheDecodeError,
  CacheEncodeError,
  CacheError,
  CacheFactoryTimeoutError,
  CacheOptionsError,
  CacheUnavailableError,
  CacheValueTooLargeError,
  errors,
} from './errors'
export {
  CHANNEL_PREFIX,
  channels,
  type BreakerStateEvent,
  type CacheBusEvent,
  type CacheErrorEvent,
  type CacheGetContext,
  type CacheLockEvent,
  type CacheOutcome,
  type CacheTier,
  type CacheWriteContext,
  type WriteBehindDeadLetterEvent,
  type WriteBehindFlushEvent,
} from './channels'

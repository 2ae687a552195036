export { type Cache, type CacheHealth, createCache } from './cache'
export type { CacheOptions, GetOrSetOptions, RedisInput, SetOptions } from './options'
export { defaults } from './options'
export type { Factory, FactoryContext } from './factory'
export type { CloseOptions, Duration, HealthStatus, Logger } from '@scalekit/internal'
export type { BreakerState } from './l2/remote'
export { type Codec, createJsonCodec, jsonCodec, type JsonCodecOptions } from './codec'
export { createEncryption, type Encryption, type EncryptionKey, type EncryptionOptions } from './encryption'
export {
  CacheArgumentError,
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
  type CacheChannels,
  type CacheErrorEvent,
  type CacheGetContext,
  type CacheLockEvent,
  type CacheOutcome,
  type CacheTier,
  type CacheWriteContext,
  type WriteBehindDeadLetterEvent,
  type WriteBehindFlushEvent,
} from './channels'

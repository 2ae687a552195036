import { CodedError, defineErrors } from '@scalekit/internal'

/**
 * The base class of every error @scalekit/cache throws: catch it to catch them all, and branch on
 * `code`, which is stable across versions (messages are not).
 */
export class CacheError extends CodedError {
  static override readonly code: string = 'ERR_CACHE'
}

/** Options given to `createCache` or `createWriteBehind` are invalid; thrown at construction, never later. */
export class CacheOptionsError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_INVALID_OPTIONS'
}

/**
 * A call got an argument it does not accept (a bad key, TTL, tag list, factory, close timeout…);
 * the call rejects with it before any Redis call, so it never counts toward the breaker.
 */
export class CacheArgumentError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_INVALID_ARGUMENT'
}

/** The cache (or a write-behind queue) was closed; no new work is taken. */
export class CacheClosedError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_CLOSED'
}

/** The encoded value is larger than `maxValueBytes`; nothing was written. */
export class CacheValueTooLargeError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_VALUE_TOO_LARGE'
}

/** The codec cannot encode the value (a function, a symbol, a cycle…); nothing was written. */
export class CacheEncodeError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_ENCODE'
}

/**
 * A stored entry cannot be decoded or decrypted. Never thrown from reads (an undecodable entry is
 * a miss, a `scalekit:cache:error` event and a logged warning); thrown only by the codec functions themselves.
 */
export class CacheDecodeError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_DECODE'
}

/** The factory did not settle within `hardTimeout` and no stale value could be served. */
export class CacheFactoryTimeoutError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_FACTORY_TIMEOUT'
}

/** Redis (L2) did not answer within its timeout, or its circuit breaker is open; `cause` holds the driver's error. */
export class CacheUnavailableError extends CacheError {
  static override readonly code: string = 'ERR_CACHE_L2_UNAVAILABLE'
}

/** Every error class of @scalekit/cache, keyed by its code (the base first). */
export const errors: {
  readonly ERR_CACHE: typeof CacheError
  readonly ERR_CACHE_INVALID_OPTIONS: typeof CacheOptionsError
  readonly ERR_CACHE_INVALID_ARGUMENT: typeof CacheArgumentError
  readonly ERR_CACHE_CLOSED: typeof CacheClosedError
  readonly ERR_CACHE_VALUE_TOO_LARGE: typeof CacheValueTooLargeError
  readonly ERR_CACHE_ENCODE: typeof CacheEncodeError
  readonly ERR_CACHE_DECODE: typeof CacheDecodeError
  readonly ERR_CACHE_FACTORY_TIMEOUT: typeof CacheFactoryTimeoutError
  readonly ERR_CACHE_L2_UNAVAILABLE: typeof CacheUnavailableError
} = defineErrors({
  ERR_CACHE: CacheError,
  ERR_CACHE_INVALID_OPTIONS: CacheOptionsError,
  ERR_CACHE_INVALID_ARGUMENT: CacheArgumentError,
  ERR_CACHE_CLOSED: CacheClosedError,
  ERR_CACHE_VALUE_TOO_LARGE: CacheValueTooLargeError,
  ERR_CACHE_ENCODE: CacheEncodeError,
  ERR_CACHE_DECODE: CacheDecodeError,
  ERR_CACHE_FACTORY_TIMEOUT: CacheFactoryTimeoutError,
  ERR_CACHE_L2_UNAVAILABLE: CacheUnavailableError,
})

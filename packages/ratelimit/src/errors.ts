import { CodedError, defineErrors } from '@scalekit/internal'

/**
 * The base class of every error @scalekit/ratelimit throws: catch it to catch them all, and branch on
 * `code`, which is stable across versions (messages are not).
 */
export class RateLimitError extends CodedError {
  static override readonly code: string = 'ERR_RATELIMIT'
}

/** Options given to a factory are invalid; thrown at construction, before any remote call. */
export class RateLimitOptionsError extends RateLimitError {
  static override readonly code: string = 'ERR_RATELIMIT_INVALID_OPTIONS'
}

/** A call got an argument it does not accept (a key, a cost); thrown before any remote call, never counted by the breaker. */
export class RateLimitArgumentError extends RateLimitError {
  static override readonly code: string = 'ERR_RATELIMIT_INVALID_ARGUMENT'
}

/** The limiter was closed: `close()` was called before (or while) this call ran. */
export class RateLimitClosedError extends RateLimitError {
  static override readonly code: string = 'ERR_RATELIMIT_CLOSED'
}

/**
 * Redis did not answer a decision in time or failed. `take()` never throws it: the limiter's
 * `onRedisError` policy decides instead, and the error is what the `error` channel and the logger
 * report (with the driver's error as `cause`). `checkHealth()` reports it.
 */
export class RateLimitUnavailableError extends RateLimitError {
  static override readonly code: string = 'ERR_RATELIMIT_UNAVAILABLE'
}

/**
 * A request was refused by a limiter: the code of the HTTP 429 body the Express and Fastify
 * adapters send. `take()` returns `{ allowed: false }` rather than throwing it.
 */
export class RateLimitExceededError extends RateLimitError {
  static override readonly code: string = 'ERR_RATELIMIT_EXCEEDED'
}

/** Every error class of @scalekit/ratelimit, keyed by its code. */
export const errors: {
  readonly ERR_RATELIMIT: typeof RateLimitError
  readonly ERR_RATELIMIT_INVALID_OPTIONS: typeof RateLimitOptionsError
  readonly ERR_RATELIMIT_INVALID_ARGUMENT: typeof RateLimitArgumentError
  readonly ERR_RATELIMIT_CLOSED: typeof RateLimitClosedError
  readonly ERR_RATELIMIT_UNAVAILABLE: typeof RateLimitUnavailableError
  readonly ERR_RATELIMIT_EXCEEDED: typeof RateLimitExceededError
} = defineErrors({
  ERR_RATELIMIT: RateLimitError,
  ERR_RATELIMIT_INVALID_OPTIONS: RateLimitOptionsError,
  ERR_RATELIMIT_INVALID_ARGUMENT: RateLimitArgumentError,
  ERR_RATELIMIT_CLOSED: RateLimitClosedError,
  ERR_RATELIMIT_UNAVAILABLE: RateLimitUnavailableError,
  ERR_RATELIMIT_EXCEEDED: RateLimitExceededError,
})

export type { Algorithm } from './algorithms'
export {
  type BreakerStateEvent,
  CHANNEL_PREFIX,
  channels,
  type DecisionEvent,
  type DecisionSource,
  type RateLimitErrorEvent,
} from './channels'
export {
  errors,
  RateLimitArgumentError,
  RateLimitClosedError,
  RateLimitError,
  RateLimitExceededError,
  RateLimitOptionsError,
  RateLimitUnavailableError,
} from './errors'
export { httpStatusOf } from './http-status'
export {
  createRateLimiter,
  type Decision,
  type RateLimiter,
  type RateLimiterHealth,
  type RateLimitPolicy,
  type TakeOptions,
} from './limiter'
export {
  defaults,
  type FailurePolicy,
  type RateLimitBreakerOptions,
  type RateLimiterOptions,
} from './options'

import {
  type BreakerSettings,
  checkRedisInput,
  createChecks,
  describeValue,
  type Duration,
  type Logger,
  onlyKnownOptions,
  type RedisClient,
} from '@scalekit/internal'
import { ALGORITHMS, type Algorithm, gcraParams, type Params } from './algorithms'
import { RateLimitOptionsError } from './errors'

/** What a limiter does with a decision when Redis is slow or down (a timeout, a lost connection, an open breaker). */
export type FailurePolicy = 'open' | 'closed' | 'local'

/** The breaker over Redis: opossum's options of the same names. */
export interface RateLimitBreakerOptions {
  /** Share of failed decisions in the rolling window, in percent, above which it opens. @default 50 */
  readonly errorThresholdPercentage?: number
  /** How long it stays open before one trial decision goes to Redis. @default '1s' */
  readonly resetTimeout?: Duration
  /** Decisions in the rolling window before it may open. @default 5 */
  readonly volumeThreshold?: number
  /** The rolling window. @default '10s' */
  readonly rollingCountTimeout?: Duration
}

/** Options of {@link createRateLimiter}. */
export interface RateLimiterOptions {
  /**
   * Where the state lives: an ioredis 5 or 6 `Redis` or `Cluster` the app owns (never closed or
   * changed by the limiter), or a `redis://` / `rediss://` URL (the limiter makes, and closes, its
   * own client; needs `ioredis` installed). Without it the state is in this process's memory: right
   * for tests and a single instance, N times too loose behind a load balancer of N instances.
   * @default undefined (in memory)
   */
  readonly redis?: RedisClient | string
  /** Names this limiter's keys in Redis (`rl:<namespace>:<algorithm>:<key>`): two limiters with different limits need different namespaces. */
  readonly namespace: string
  /** The limiter's name on channels, in logs and in the `RateLimit` headers. @default namespace */
  readonly name?: string
  /** Requests (units of cost) allowed per `period`. */
  readonly limit: number
  /** The period `limit` is counted over: ms or `'1s'`, `'1m'`, `'1h'`, `'1d'`. */
  readonly period: Duration
  /**
   * GCRA and token bucket: the units an idle key may spend at once. Any window of one `period` then
   * sees at most `limit + burst`. Refused for the window algorithms (their cap is `limit` per window).
   *
   * Why `limit` by default: `limit: 100, period: '1m'` reads as "100 a minute", and users expect a
   * client that waited to be able to spend them together (a page that makes ten calls at load), as
   * every fixed-window limiter and a token bucket of capacity `limit` allow. A smaller default would
   * refuse the second of two quick requests (`burst: 1` spaces them `period / limit` apart). The
   * price: a key idle for a whole period can reach `2 × limit` over the next period, never more than
   * `burst` at once and never at a window edge. For a tight limit (logins, OTPs) set a small `burst`.
   * @default limit
   */
  readonly burst?: number
  /** @default 'gcra' */
  readonly algorithm?: Algorithm
  /**
   * The most a decision waits on Redis; past it the `onRedisError` policy decides. Bounds every call
   * whatever the client's own retry settings (ioredis 6 keeps a command to a dead Redis ~73 s).
   * @default '100ms'
   */
  readonly timeout?: Duration
  /**
   * When Redis is slow or down: `'open'` allows every request, `'closed'` refuses every request,
   * `'local'` decides in this process with `limit` and `burst` divided by `expectedInstances`.
   *
   * Why `'local'` by default: a Redis outage should not take the API down with it (Envoy's rate
   * limit filter fails open unless `failure_mode_deny` is set; express-rate-limit's default forwards
   * the store's error, a 500 for every request), and it should not lift every limit either
   * (failing open lets one client hammer the app while Redis is away). `'local'` does what
   * rate-limiter-flexible's opt-in `insuranceLimiter` does, by default: no request is refused because
   * Redis is down, and each instance still holds each key to its share. With the default
   * `expectedInstances: 1` each instance allows the whole limit (N instances: up to N × `limit`):
   * set it to your instance count, or choose `'closed'` where letting a request through is worse
   * than refusing it (a login or OTP limit against brute force).
   * @default 'local'
   */
  readonly onRedisError?: FailurePolicy
  /** How many instances share the limit: the local fallback allows `limit / expectedInstances` each. @default 1 */
  readonly expectedInstances?: number
  /** The breaker over Redis, so an outage costs no wait per request. */
  readonly breaker?: RateLimitBreakerOptions
  /**
   * Deny without a round trip while a key is known to be empty (Redis said so, until a time it
   * gave): on a hammered key the denied requests cost no Redis command.
   * @default true
   */
  readonly localBlock?: boolean
  /** The most keys kept in memory (the in-memory store, the local fallback, the known-empty keys). @default 100_000 */
  readonly maxKeys?: number
  /** Where warnings go (pino's shape); one per episode of trouble, never a key. @default process warnings */
  readonly logger?: Logger
}

/** The defaults of every option that has one. */
export const defaults: {
  readonly algorithm: Algorithm
  readonly timeout: Duration
  readonly onRedisError: FailurePolicy
  readonly expectedInstances: number
  readonly localBlock: boolean
  readonly maxKeys: number
  readonly breaker: Required<RateLimitBreakerOptions>
} = {
  algorithm: 'gcra',
  timeout: '100ms',
  onRedisError: 'local',
  expectedInstances: 1,
  localBlock: true,
  maxKeys: 100_000,
  breaker: {
    errorThresholdPercentage: 50,
    resetTimeout: '1s',
    volumeThreshold: 5,
    rollingCountTimeout: '10s',
  },
}

/** Options resolved once, at construction. */
export interface ResolvedOptions {
  readonly redis: RedisClient | string | undefined
  readonly namespace: string
  readonly name: string
  readonly algorithm: Algorithm
  readonly periodMs: number
  readonly params: Params
  /** The local fallback's parameters: limit and burst divided by the expected instances. */
  readonly localParams: Params
  readonly timeoutMs: number
  readonly onRedisError: FailurePolicy
  readonly expectedInstances: number
  readonly localBlock: boolean
  readonly maxKeys: number
  readonly breaker: BreakerSettings
  readonly logger: Logger | undefined
}

const KNOWN = [
  'redis',
  'namespace',
  'name',
  'limit',
  'period',
  'burst',
  'algorithm',
  'timeout',
  'onRedisError',
  'expectedInstances',
  'breaker',
  'localBlock',
  'maxKeys',
  'logger',
]

const WINDOWS: readonly Algorithm[] = ['sliding-log', 'sliding-window', 'fixed-window']

/** The largest µs value the scripts compute with exactly (a double holds integers to 2⁵³). */
const SAFE_US = 2 ** 50

/** Checks and resolves a limiter's options; a bad one throws `ERR_RATELIMIT_INVALID_OPTIONS` naming it. */
export function resolveOptions(input: RateLimiterOptions): ResolvedOptions {
  const checks = createChecks(RateLimitOptionsError)
  const given: unknown = input
  if (typeof given !== 'object' || given === null || Array.isArray(given))
    checks.fail('createRateLimiter() takes an options object: { namespace, limit, period }')
  onlyKnownOptions(checks, '', input, KNOWN)
  const o = input as Partial<RateLimiterOptions>
  const namespace = checkName(checks, 'namespace', o.namespace, undefined)
  const name = checkName(checks, 'name', o.name, namespace)
  const algorithm = checks.oneOf('algorithm', o.algorithm, defaults.algorithm, ALGORITHMS)
  if (o.limit === undefined) checks.fail('limit is required: the requests allowed per period')
  if (o.period === undefined) checks.fail("period is required: the time limit counts over, e.g. '1m'")
  const limit = checks.integer('limit', o.limit, 1, {
    min: 1,
    max: algorithm === 'sliding-log' ? 10_000 : 1_000_000_000,
  })
  const periodMs = checks.duration('period', o.period, 1000, { min: 1 })
  const windowed = WINDOWS.includes(algorithm)
  if (windowed && o.burst !== undefined)
    checks.fail(
      `burst applies to 'gcra' and 'token-bucket'; the '${algorithm}' algorithm allows limit per window`,
    )
  const burst = windowed ? limit : checks.integer('burst', o.burst, limit, { min: 1, max: 1_000_000_000 })
  if ((periodMs * 1000) / limit < 1)
    checks.fail(
      `limit / period must be at most 1 000 000 per second (one unit per µs), got ${limit} per ${periodMs} ms`,
    )
  const params = gcraParams(limit, periodMs, burst)
  if (params.burst * params.intervalUs > SAFE_US)
    checks.fail(
      `burst × period / limit must be under ${Math.floor(SAFE_US / 1e9)} s (exact µs arithmetic in the scripts)`,
    )
  const expectedInstances = checks.integer(
    'expectedInstances',
    o.expectedInstances,
    defaults.expectedInstances,
    {
      min: 1,
      max: 100_000,
    },
  )
  const b = checks.group('breaker', o.breaker)
  onlyKnownOptions(checks, 'breaker', b, Object.keys(defaults.breaker))
  return {
    redis: o.redis === undefined ? undefined : checkRedisInput(checks, 'redis', o.redis),
    namespace,
    name,
    algorithm,
    periodMs,
    params,
    localParams: gcraParams(
      Math.max(1, Math.floor(limit / expectedInstances)),
      periodMs,
      Math.max(1, Math.floor(burst / expectedInstances)),
    ),
    timeoutMs: checks.duration('timeout', o.timeout, defaults.timeout, { min: 1 }),
    onRedisError: checks.oneOf('onRedisError', o.onRedisError, defaults.onRedisError, [
      'open',
      'closed',
      'local',
    ]),
    expectedInstances,
    localBlock: checks.boolean('localBlock', o.localBlock, defaults.localBlock),
    maxKeys: checks.integer('maxKeys', o.maxKeys, defaults.maxKeys, { min: 1 }),
    breaker: {
      errorThresholdPercentage: checks.number(
        'breaker.errorThresholdPercentage',
        b.errorThresholdPercentage,
        defaults.breaker.errorThresholdPercentage,
        { min: 0, max: 100 },
      ),
      resetTimeout: checks.duration('breaker.resetTimeout', b.resetTimeout, defaults.breaker.resetTimeout, {
        min: 1,
      }),
      volumeThreshold: checks.integer(
        'breaker.volumeThreshold',
        b.volumeThreshold,
        defaults.breaker.volumeThreshold,
        {
          min: 1,
        },
      ),
      rollingCountTimeout: checks.duration(
        'breaker.rollingCountTimeout',
        b.rollingCountTimeout,
        defaults.breaker.rollingCountTimeout,
        { min: 10 },
      ),
    },
    logger: checkLogger(checks, o.logger),
  }
}

function checkName(
  checks: ReturnType<typeof createChecks>,
  option: string,
  value: unknown,
  fallback: string | undefined,
): string {
  const v = value ?? fallback
  if (typeof v !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(v))
    checks.fail(
      `${option} must be 1 to 64 letters, digits or _ . : - (it names keys and channels), got ${describeValue(value)}`,
    )
  return v
}

function checkLogger(checks: ReturnType<typeof createChecks>, logger: unknown): Logger | undefined {
  if (logger === undefined) return undefined
  if (typeof logger !== 'object' || logger === null || typeof (logger as Logger).warn !== 'function')
    checks.fail('logger must have a warn(obj, msg) method (pino, console), got another value')
  return logger as Logger
}

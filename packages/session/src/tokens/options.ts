import { createChecks, createWarner, DeadlineSweep, describeValue } from '@scalekit/internal'
import type { Checks, Duration, Logger, Warner } from '@scalekit/internal'
import { SessionOptionsError } from '../errors'
import type { RedisClient } from '../redis'
import { checkKeySet } from './keys'
import type { CheckedKeySet, KeySet } from './keys'

/** Options of {@link createTokens}. */
export interface TokensOptions {
  /** The `iss` of every token issued, and the only one accepted. */
  readonly issuer: string
  /** The `aud` of access tokens (the APIs that accept them); verification accepts any of a list. */
  readonly audience: string | readonly string[]
  /**
   * A JWK Set `{ keys: [...] }`, each key with a `kid`: the first (a private key) signs, every key
   * verifies. Rotate by putting a new key first and keeping the old one until its tokens expired.
   */
  readonly keys: KeySet
  /**
   * The algorithm allow-list. A token whose `alg` is not listed is refused before any key is looked
   * at; each key is bound to one algorithm. @default the algorithms of `keys`
   */
  readonly algorithms?: readonly string[]
  /**
   * An ioredis 5/6 client (`Redis` or `Cluster`) the app owns, for refresh rotation with reuse
   * detection and revocation. Without it tokens are stateless: nothing can be revoked, a token lives
   * until it expires. @default none (stateless)
   */
  readonly redis?: RedisClient
  /**
   * Where refresh families and revocations live without `redis`: `'stateless'` (nothing is tracked,
   * a token lives until it expires; any number of instances) or `'memory'` (this process: refresh
   * rotation with reuse detection and revocation, as with Redis, for an app with one instance; a
   * restart forgets every login, so each refresh token is refused and users log in again).
   * Not allowed with `redis`. @default 'stateless'
   */
  readonly store?: 'stateless' | 'memory'
  /** Lifetime of access tokens: short, since only revocation (with Redis) ends them early. @default '15m' */
  readonly accessTokenTtl?: Duration
  /** Lifetime of refresh tokens; each refresh starts a new one. @default '14d' */
  readonly refreshTokenTtl?: Duration
  /** Lifetime of service tokens (service-to-service). @default '5m' */
  readonly serviceTokenTtl?: Duration
  /** Allowed clock skew for `exp`, `nbf` and `iat` between instances. @default '10s' */
  readonly clockTolerance?: Duration
  /** Longest token accepted, in characters; longer ones are refused before they are parsed. @default 8192 */
  readonly maxTokenSize?: number
  /**
   * How long a just-retired refresh token still gets the same successor (tabs refreshing in
   * parallel) instead of revoking its family. @default '10s'
   */
  readonly refreshGrace?: Duration
  /**
   * The longest a revocation takes to reach every instance while Redis is reachable: pushes arrive
   * at once, and each instance also checks for missed ones this often. @default '2s'
   */
  readonly revocationSync?: Duration
  /** Bound of every Redis call. @default '1s' */
  readonly timeout?: Duration
  /** Entries of the verified-token cache; 0 turns it off. @default 10000 */
  readonly cacheSize?: number
  /** Prefix of the Redis keys and the pub/sub channel. @default 'sk:session' */
  readonly prefix?: string
  /** Where trouble is reported (pino's shape), rate-limited, never a token. @default process warnings */
  readonly logger?: Logger
}

/** Defaults of {@link TokensOptions}. */
export const tokenDefaults: {
  readonly accessTokenTtl: '15m'
  readonly refreshTokenTtl: '14d'
  readonly serviceTokenTtl: '5m'
  readonly clockTolerance: '10s'
  readonly maxTokenSize: 8192
  readonly refreshGrace: '10s'
  readonly revocationSync: '2s'
  readonly timeout: '1s'
  readonly cacheSize: 10_000
  readonly prefix: 'sk:session'
} = {
  accessTokenTtl: '15m',
  refreshTokenTtl: '14d',
  serviceTokenTtl: '5m',
  clockTolerance: '10s',
  maxTokenSize: 8192,
  refreshGrace: '10s',
  revocationSync: '2s',
  timeout: '1s',
  cacheSize: 10_000,
  prefix: 'sk:session',
}

/** The options once checked. */
export interface ResolvedTokensOptions {
  readonly issuer: string
  readonly audience: readonly string[]
  readonly keySet: CheckedKeySet
  readonly redis: RedisClient | undefined
  /** Where families and revocations live. */
  readonly store: 'redis' | 'memory' | 'stateless'
  readonly accessTtlMs: number
  readonly refreshTtlMs: number
  readonly serviceTtlMs: number
  readonly clockToleranceSec: number
  readonly maxTokenSize: number
  readonly graceMs: number
  readonly syncMs: number
  readonly timeoutMs: number
  readonly cacheSize: number
  readonly prefix: string
  readonly warner: Warner
  readonly sweep: DeadlineSweep
}

const checks: Checks = createChecks(SessionOptionsError)

/** Non-empty strings, or a coded error naming `name`. */
export function stringList(name: string, value: unknown): readonly string[] {
  const list = typeof value === 'string' ? [value] : value
  if (!Array.isArray(list) || list.length === 0 || list.some((v) => typeof v !== 'string' || v === ''))
    checks.fail(`${name} must be a non-empty string or a list of them, got ${describeValue(value)}`)
  // A copy: a caller changing its array later changes nothing here.
  return Object.freeze([...(list as string[])])
}

/** Checks every option once, at construction. */
export function resolveTokensOptions(options: TokensOptions): ResolvedTokensOptions {
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    checks.fail(`createTokens() takes an options object, got ${describeValue(given)}`)
  if (typeof options.issuer !== 'string' || options.issuer === '')
    checks.fail(`issuer must be a non-empty string, got ${describeValue(options.issuer)}`)
  const audience = stringList('audience', options.audience)
  const algorithms =
    options.algorithms === undefined ? undefined : stringList('algorithms', options.algorithms)
  if (algorithms?.some((a) => a.toLowerCase() === 'none')) checks.fail(`algorithms must not contain 'none'`)
  const keySet = checkKeySet(options.keys, algorithms, 'keys', (message) => checks.fail(message))
  const redis = options.redis
  const client: unknown = redis
  if (
    redis !== undefined &&
    (typeof client !== 'object' ||
      client === null ||
      typeof (client as { evalsha?: unknown }).evalsha !== 'function')
  )
    checks.fail(`redis must be an ioredis Redis or Cluster client, got ${describeValue(redis)}`)
  if (redis !== undefined && options.store !== undefined)
    checks.fail(
      `store ${describeValue(options.store)} and redis are exclusive: with redis the state is in Redis`,
    )
  const store =
    redis !== undefined
      ? 'redis'
      : checks.oneOf<'stateless' | 'memory'>('store', options.store, 'stateless', ['stateless', 'memory'])
  const prefix = options.prefix ?? tokenDefaults.prefix
  if (typeof prefix !== 'string' || prefix === '' || /[{}]/.test(prefix))
    checks.fail(`prefix must be a non-empty string without braces, got ${describeValue(prefix)}`)
  return {
    issuer: options.issuer,
    audience,
    keySet,
    redis,
    store,
    accessTtlMs: checks.duration('accessTokenTtl', options.accessTokenTtl, tokenDefaults.accessTokenTtl, {
      min: 1000,
    }),
    refreshTtlMs: checks.duration('refreshTokenTtl', options.refreshTokenTtl, tokenDefaults.refreshTokenTtl, {
      min: 1000,
    }),
    serviceTtlMs: checks.duration('serviceTokenTtl', options.serviceTokenTtl, tokenDefaults.serviceTokenTtl, {
      min: 1000,
    }),
    clockToleranceSec:
      checks.duration('clockTolerance', options.clockTolerance, tokenDefaults.clockTolerance, {
        max: 300_000,
      }) / 1000,
    maxTokenSize: checks.integer('maxTokenSize', options.maxTokenSize, tokenDefaults.maxTokenSize, {
      min: 256,
      max: 65_536,
    }),
    graceMs: checks.duration('refreshGrace', options.refreshGrace, tokenDefaults.refreshGrace, {
      max: 300_000,
    }),
    syncMs: checks.duration('revocationSync', options.revocationSync, tokenDefaults.revocationSync, {
      min: 50,
    }),
    timeoutMs: checks.duration('timeout', options.timeout, tokenDefaults.timeout, { min: 1 }),
    cacheSize: checks.integer('cacheSize', options.cacheSize, tokenDefaults.cacheSize, { min: 0 }),
    prefix,
    warner: createWarner('session', options.logger),
    sweep: new DeadlineSweep(),
  }
}

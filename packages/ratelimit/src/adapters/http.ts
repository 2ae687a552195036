import { describeValue } from '@scalekit/internal'
import { RateLimitOptionsError } from '../errors'
import type { KeyFunction, RateLimitRequest } from '../keys'
import type { Decision, RateLimiter } from '../limiter'

/** One limit applied to a request: a limiter and the key the request counts against. */
export interface RateLimitRule {
  readonly limiter: RateLimiter
  /** The request's key (see `byUser`, `byApiKey`, `byIp`, `byRoute`); `undefined` skips this rule for the request. */
  readonly key: KeyFunction
  /** Units the request spends: a number or a function of the request. @default 1 */
  readonly cost?: number | ((req: RateLimitRequest) => number)
}

/** What the adapters do around the rules. */
export interface RateLimitMiddlewareOptions {
  /** Requests for which no rule runs (health checks, internal callers). @default none */
  readonly skip?: (req: RateLimitRequest) => boolean
  /** Paths no rule runs for: exact (`'/healthz'`) or a prefix ending in `*` (`'/static/*'`). @default [] */
  readonly skipPaths?: readonly string[]
  /** Decide, send the headers and call `onLimited`, but never refuse: to try limits on real traffic. @default false */
  readonly dryRun?: boolean
  /** Send the `RateLimit-Policy` and `RateLimit` headers. @default true */
  readonly headers?: boolean
  /** Told of every refused request (also in dry-run mode), with the limiter's policy name; never throws into the request. */
  readonly onLimited?: (req: RateLimitRequest, limited: LimitedRequest) => void
}

/** A refusal, as `onLimited` hears it. */
export interface LimitedRequest {
  /** The refusing limiter's `policy.name`. */
  readonly limiter: string
  readonly decision: Decision
  readonly dryRun: boolean
}

/** The 429 body: a coded JSON error. */
export interface RateLimitedBody {
  readonly code: 'ERR_RATELIMIT_EXCEEDED'
  readonly message: string
  /** The limiter that refused. */
  readonly limiter: string
  /** Seconds to wait, as in `Retry-After`. */
  readonly retryAfter: number
}

/** The outcome for one request: headers to send, and the refusal if any (never in dry-run mode). */
export interface Verdict {
  readonly headers: readonly (readonly [string, string])[]
  readonly refused: RateLimitedBody | undefined
}

/** The rules and options checked once, at construction. */
export interface Resolved {
  readonly rules: readonly RateLimitRule[]
  readonly options: RateLimitMiddlewareOptions
  readonly skipPath: (path: string) => boolean
  readonly policyHeader: string
}

/** Checks an adapter's arguments; a mistake throws `ERR_RATELIMIT_INVALID_OPTIONS`. */
export function resolveRules(
  rules: RateLimitRule | readonly RateLimitRule[],
  options: RateLimitMiddlewareOptions = {},
): Resolved {
  const list: readonly RateLimitRule[] = Array.isArray(rules) ? rules : [rules as RateLimitRule]
  if (list.length === 0)
    throw new RateLimitOptionsError('rateLimit() needs at least one rule: { limiter, key }')
  for (const [i, rule] of list.entries()) {
    const r = rule as Partial<RateLimitRule> | null
    if (typeof r?.limiter?.take !== 'function')
      throw new RateLimitOptionsError(
        `rules[${i}].limiter must be a limiter from createRateLimiter(), got ${describeValue(r?.limiter)}`,
      )
    if (typeof r.key !== 'function')
      throw new RateLimitOptionsError(
        `rules[${i}].key must be a function of the request (byUser(), byIp()…), got ${describeValue(r.key)}`,
      )
  }
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    throw new RateLimitOptionsError('rateLimit(rules, options): options must be an object')
  for (const name of ['skip', 'onLimited'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function')
      throw new RateLimitOptionsError(`${name} must be a function, got ${describeValue(options[name])}`)
  }
  const skipPaths = options.skipPaths ?? []
  if (!Array.isArray(skipPaths) || !skipPaths.every((p) => typeof p === 'string'))
    throw new RateLimitOptionsError(`skipPaths must be an array of paths, got ${describeValue(skipPaths)}`)
  const exact = new Set(skipPaths.filter((p) => !p.endsWith('*')))
  const prefixes = skipPaths.filter((p) => p.endsWith('*')).map((p) => p.slice(0, -1))
  return {
    rules: list,
    options,
    skipPath: (path) => exact.has(path) || prefixes.some((p) => path.startsWith(p)),
    policyHeader: list
      .map(
        ({ limiter: { policy } }) =>
          `"${policy.name}";q=${policy.limit};w=${Math.max(1, Math.ceil(policy.period / 1000))}`,
      )
      .join(', '),
  }
}

/**
 * Runs every rule for one request (in parallel) and says what to send: the IETF
 * `RateLimit-Policy` / `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers), and, when a rule
 * refused, `Retry-After` and the 429 body. Rejects only with the limiters' own errors (a closed
 * limiter, a bad key or cost).
 */
export async function decide(resolved: Resolved, req: RateLimitRequest): Promise<Verdict | undefined> {
  const { options } = resolved
  if (resolved.skipPath(req.path) || options.skip?.(req) === true) return undefined
  const take = async (
    rule: RateLimitRule,
  ): Promise<{ rule: RateLimitRule; decision: Decision } | undefined> => {
    const key = rule.key(req)
    if (key === undefined) return undefined
    const cost = typeof rule.cost === 'function' ? rule.cost(req) : (rule.cost ?? 1)
    return { rule, decision: await rule.limiter.take(key, { cost }) }
  }
  const { rules } = resolved
  const taken =
    rules.length === 1 ? [await take(rules[0] as RateLimitRule)] : await Promise.all(rules.map(take))
  const headers: [string, string][] = []
  const items: string[] = []
  let refused: { name: string; decision: Decision } | undefined
  for (const t of taken) {
    if (t === undefined) continue
    const { name } = t.rule.limiter.policy
    items.push(`"${name}";r=${t.decision.remaining};t=${Math.ceil(t.decision.resetAfter / 1000)}`)
    if (!t.decision.allowed && (refused === undefined || t.decision.retryAfter > refused.decision.retryAfter))
      refused = { name, decision: t.decision }
  }
  if (options.headers !== false && items.length > 0) {
    headers.push(['RateLimit-Policy', resolved.policyHeader], ['RateLimit', items.join(', ')])
  }
  if (refused === undefined) return { headers, refused: undefined }
  const dryRun = options.dryRun === true
  try {
    options.onLimited?.(req, { limiter: refused.name, decision: refused.decision, dryRun })
  } catch {
    // A reporting hook never breaks the request.
  }
  if (dryRun) return { headers, refused: undefined }
  const retryAfter = Math.max(1, Math.ceil(refused.decision.retryAfter / 1000))
  headers.push(['Retry-After', String(retryAfter)])
  return {
    headers,
    refused: {
      code: 'ERR_RATELIMIT_EXCEEDED',
      message: `Too many requests: retry after ${retryAfter} s`,
      limiter: refused.name,
      retryAfter,
    },
  }
}

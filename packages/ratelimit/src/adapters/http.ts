import { describeValue } from '@scalekit/internal'
import { RateLimitOptionsError } from '../errors'
import type { KeyFunction, RateLimitRequest } from '../keys'
import { type Decision, type DecidesNow, decideNow, type RateLimiter } from '../limiter'

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

/** A refusal (never in dry-run mode): the 429 body and the `Retry-After` value, whole seconds. */
export interface Refusal {
  readonly body: RateLimitedBody
  readonly retryAfter: string
}

/** The rules and options checked once, at construction. */
export interface Resolved {
  readonly rules: readonly RateLimitRule[]
  readonly options: RateLimitMiddlewareOptions
  /** Whether no rule runs for a path; undefined without `skipPaths` (the path is then never read). */
  readonly skipPath: ((path: string) => boolean) | undefined
  readonly policyHeader: string
}

/** A request URL's path: what comes before its query string. */
export function pathOf(url: string): string {
  const query = url.indexOf('?')
  return query === -1 ? url : url.slice(0, query)
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
    skipPath:
      skipPaths.length === 0
        ? undefined
        : (path) => exact.has(path) || prefixes.some((p) => path.startsWith(p)),
    policyHeader: list
      .map(
        ({ limiter: { policy } }) =>
          `"${policy.name}";q=${policy.limit};w=${Math.max(1, Math.ceil(policy.period / 1000))}`,
      )
      .join(', '),
  }
}

/**
 * Runs every rule for one request (in parallel) and hands `answer` what to send: the IETF `RateLimit`
 * header's value (draft-ietf-httpapi-ratelimit-headers; `RateLimit-Policy` is `resolved.policyHeader`),
 * undefined with `headers: false` or when the request is skipped or no rule had a key for it; and
 * the refusal, if a rule refused. `fail` gets the limiters' own errors (a closed limiter, a bad key or
 * cost) and what a key function throws. Callbacks rather than a promise: a request waits on a
 * Redis-backed limiter's promise alone, and on an in-memory one not at all (`answer` is called
 * before `decide` returns).
 */
export function decide(
  resolved: Resolved,
  req: RateLimitRequest,
  answer: (rateLimit: string | undefined, refused: Refusal | undefined) => void,
  fail: (error: Error) => void,
): void {
  const { options, rules } = resolved
  let one: Decision | Promise<Decision> | undefined
  let all: (Decision | Promise<Decision> | undefined)[] | undefined
  try {
    if (resolved.skipPath?.(req.path) !== true && options.skip?.(req) !== true) {
      if (rules.length === 1) one = take(rules[0] as RateLimitRule, req)
      else all = rules.map((rule) => take(rule, req))
    }
  } catch (error) {
    // What a key function, `skip` or a limiter threw goes on unchanged (an Error, unless the app threw something else).
    fail(error as Error)
    return
  }
  if (one instanceof Promise)
    one.then((decision) => {
      verdictOf(resolved, req, [decision], answer)
    }, fail)
  else if (one !== undefined) verdictOf(resolved, req, [one], answer)
  else if (all === undefined) answer(undefined, undefined)
  else if (all.some((d) => d instanceof Promise))
    Promise.all(all.map((d) => Promise.resolve(d))).then((decisions) => {
      verdictOf(resolved, req, decisions, answer)
    }, fail)
  else verdictOf(resolved, req, all as (Decision | undefined)[], answer)
}

/** The rule's decision for the request (a promise while it waits on Redis); undefined when its key function gives no key. */
function take(rule: RateLimitRule, req: RateLimitRequest): Decision | Promise<Decision> | undefined {
  const key = rule.key(req)
  if (key === undefined) return undefined
  const { cost, limiter } = rule
  const options = cost === undefined ? undefined : { cost: typeof cost === 'function' ? cost(req) : cost }
  // Any object with take() is accepted as a limiter; ours answer without a promise when they can.
  return decideNow in limiter
    ? (limiter as RateLimiter & DecidesNow)[decideNow](key, options)
    : limiter.take(key, options)
}

/** The `RateLimit` value and the refusal from each rule's decision (`decisions[i]` for `rules[i]`, undefined without a key), handed to `answer`. */
function verdictOf(
  resolved: Resolved,
  req: RateLimitRequest,
  decisions: readonly (Decision | undefined)[],
  answer: (rateLimit: string | undefined, refused: Refusal | undefined) => void,
): void {
  const { options, rules } = resolved
  let items = ''
  let refused: { name: string; decision: Decision } | undefined
  for (let i = 0; i < rules.length; i++) {
    const decision = decisions[i]
    if (decision === undefined) continue
    const { name } = (rules[i] as RateLimitRule).limiter.policy
    const item = `"${name}";r=${decision.remaining};t=${Math.ceil(decision.resetAfter / 1000)}`
    items = items === '' ? item : `${items}, ${item}`
    if (!decision.allowed && (refused === undefined || decision.retryAfter > refused.decision.retryAfter))
      refused = { name, decision }
  }
  const rateLimit = items === '' || options.headers === false ? undefined : items
  if (refused === undefined) {
    answer(rateLimit, undefined)
    return
  }
  const dryRun = options.dryRun === true
  try {
    options.onLimited?.(req, { limiter: refused.name, decision: refused.decision, dryRun })
  } catch {
    // A reporting hook never breaks the request.
  }
  if (dryRun) {
    answer(rateLimit, undefined)
    return
  }
  const retryAfter = Math.max(1, Math.ceil(refused.decision.retryAfter / 1000))
  answer(rateLimit, {
    body: {
      code: 'ERR_RATELIMIT_EXCEEDED',
      message: `Too many requests: retry after ${retryAfter} s`,
      limiter: refused.name,
      retryAfter,
    },
    retryAfter: String(retryAfter),
  })
}

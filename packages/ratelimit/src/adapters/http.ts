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
  /** `RateLimit-Policy`, `RateLimit` and, on a refusal, `Retry-After`; none with `headers: false` and no refusal. */
  readonly headers: Readonly<Record<string, string>> | undefined
  readonly refused: RateLimitedBody | undefined
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
 * Runs every rule for one request (in parallel) and hands `answer` what to send: the IETF
 * `RateLimit-Policy` / `RateLimit` headers (draft-ietf-httpapi-ratelimit-headers), and, when a rule
 * refused, `Retry-After` and the 429 body; `undefined` when the request is skipped or no rule had a
 * key for it. `fail` gets the limiters' own errors (a closed limiter, a bad key or cost) and what a
 * key function throws. Callbacks rather than a promise: an adapter's request then waits on the
 * limiter's promise alone.
 */
export function decide(
  resolved: Resolved,
  req: RateLimitRequest,
  answer: (verdict: Verdict | undefined) => void,
  fail: (error: Error) => void,
): void {
  const { options, rules } = resolved
  let one: Promise<Decision> | undefined
  let all: Promise<(Decision | undefined)[]> | undefined
  try {
    if (resolved.skipPath?.(req.path) !== true && options.skip?.(req) !== true) {
      if (rules.length === 1) one = take(rules[0] as RateLimitRule, req)
      else all = Promise.all(rules.map((rule) => take(rule, req) ?? Promise.resolve(undefined)))
    }
  } catch (error) {
    // What a key function or `skip` threw goes on unchanged (an Error, unless the app threw something else).
    fail(error as Error)
    return
  }
  if (one !== undefined)
    one.then((decision) => {
      answer(verdictOf(resolved, req, rules, [decision]))
    }, fail)
  else if (all !== undefined)
    all.then((decisions) => {
      answer(verdictOf(resolved, req, rules, decisions))
    }, fail)
  else answer(undefined)
}

/** The rule's decision for the request; undefined when its key function gives no key. */
function take(rule: RateLimitRule, req: RateLimitRequest): Promise<Decision> | undefined {
  const key = rule.key(req)
  if (key === undefined) return undefined
  const { cost } = rule
  return rule.limiter.take(
    key,
    cost === undefined ? undefined : { cost: typeof cost === 'function' ? cost(req) : cost },
  )
}

/** The headers and the refusal from each rule's decision (`decisions[i]` for `rules[i]`, undefined without a key). */
function verdictOf(
  resolved: Resolved,
  req: RateLimitRequest,
  rules: readonly RateLimitRule[],
  decisions: readonly (Decision | undefined)[],
): Verdict | undefined {
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
  if (items === '') return undefined
  const { options } = resolved
  const headers: Record<string, string> | undefined =
    options.headers === false ? undefined : { 'RateLimit-Policy': resolved.policyHeader, RateLimit: items }
  if (refused === undefined) return { headers, refused: undefined }
  const dryRun = options.dryRun === true
  try {
    options.onLimited?.(req, { limiter: refused.name, decision: refused.decision, dryRun })
  } catch {
    // A reporting hook never breaks the request.
  }
  if (dryRun) return { headers, refused: undefined }
  const retryAfter = Math.max(1, Math.ceil(refused.decision.retryAfter / 1000))
  return {
    headers: { ...headers, 'Retry-After': String(retryAfter) },
    refused: {
      code: 'ERR_RATELIMIT_EXCEEDED',
      message: `Too many requests: retry after ${retryAfter} s`,
      limiter: refused.name,
      retryAfter,
    },
  }
}

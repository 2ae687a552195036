import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http'
import { httpStatusOf } from '../http-status'
import type { RateLimitRequest } from '../keys'
import { decide, pathOf, type RateLimitMiddlewareOptions, type RateLimitRule, resolveRules } from './http'

export type { LimitedRequest, RateLimitedBody, RateLimitMiddlewareOptions, RateLimitRule } from './http'
export { byApiKey, byIp, byRoute, byUser, combineKeys } from '../keys'
export type { ByApiKeyOptions, ByIpOptions, KeyFunction, RateLimitRequest } from '../keys'

/** An Express (4 or 5) / Connect middleware; typed on Node's http types so it needs no Express types. */
export type RateLimitMiddleware = (
  req: IncomingMessage,
  res: ServerResponse,
  next: (error?: unknown) => void,
) => void

/** What Express adds to a request that the keys read. */
interface ExpressRequest extends IncomingMessage {
  user?: unknown
  route?: { path?: unknown }
  baseUrl?: string
  path?: string
}

/**
 * Limits requests by one or several rules (per user and global, say): every rule spends, the
 * request goes on when all allow it, else it ends with 429, `Retry-After` and a coded JSON body
 * (`ERR_RATELIMIT_EXCEEDED`). The IETF `RateLimit-Policy` and `RateLimit` headers go on every
 * answer. Mounted on a route (`app.get('/x/:id', rateLimit(…), handler)`), `byRoute()` sees the
 * route's template. A limiter's own error (closed, bad key) goes to `next(error)`.
 *
 * ```ts
 * app.use(rateLimit({ limiter, key: byIp({ trustedProxies: ['10.0.0.0/8'] }) }))
 * ```
 */
export function rateLimit(
  rules: RateLimitRule | readonly RateLimitRule[],
  options?: RateLimitMiddlewareOptions,
): RateLimitMiddleware {
  const resolved = resolveRules(rules, options)
  const policy = resolved.policyHeader
  return (req, res, next) => {
    decide(
      resolved,
      new ExpressRateLimitRequest(req),
      (rateLimit, refused) => {
        if (rateLimit !== undefined) {
          res.setHeader('RateLimit-Policy', policy)
          res.setHeader('RateLimit', rateLimit)
        }
        if (refused === undefined) {
          next()
          return
        }
        res.setHeader('Retry-After', refused.retryAfter)
        res.statusCode = httpStatusOf(refused.body.code)
        res.setHeader('content-type', 'application/json; charset=utf-8')
        res.end(JSON.stringify(refused.body))
      },
      next,
    )
  }
}

/**
 * What the keys read from an Express request. The route template and the path are read when a key
 * function or `skip` asks for them (most keys never do).
 */
class ExpressRateLimitRequest implements RateLimitRequest {
  readonly #req: ExpressRequest
  readonly remoteAddress: string | undefined
  readonly headers: IncomingHttpHeaders
  readonly user: unknown
  readonly method: string

  constructor(req: ExpressRequest) {
    this.#req = req
    this.remoteAddress = req.socket.remoteAddress
    this.headers = req.headers
    this.user = req.user
    this.method = req.method ?? 'GET'
  }

  get route(): string | undefined {
    const routePath = this.#req.route?.path
    return typeof routePath === 'string' ? `${this.#req.baseUrl ?? ''}${routePath}` : undefined
  }

  get path(): string {
    const req = this.#req
    return `${req.baseUrl ?? ''}${req.path ?? pathOf(req.url ?? '/')}`
  }
}

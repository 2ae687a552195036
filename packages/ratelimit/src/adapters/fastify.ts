import type { IncomingHttpHeaders } from 'node:http'
import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  HookHandlerDoneFunction,
  onRequestHookHandler,
} from 'fastify'
import fp from 'fastify-plugin'
import { httpStatusOf } from '../http-status'
import type { RateLimitRequest } from '../keys'
import { decide, pathOf, type RateLimitMiddlewareOptions, type RateLimitRule, resolveRules } from './http'

export type { LimitedRequest, RateLimitedBody, RateLimitMiddlewareOptions, RateLimitRule } from './http'
export { byApiKey, byIp, byRoute, byUser, combineKeys } from '../keys'
export type { ByApiKeyOptions, ByIpOptions, KeyFunction, RateLimitRequest } from '../keys'

/** Options of the {@link rateLimitPlugin}: the rules and what to do around them. */
export interface RateLimitPluginOptions extends RateLimitMiddlewareOptions {
  readonly rules: RateLimitRule | readonly RateLimitRule[]
}

/**
 * An `onRequest` hook that limits requests by one or several rules, for one route
 * (`{ onRequest: rateLimitHook(…) }`) or every route (`app.addHook('onRequest', …)`); see
 * {@link rateLimitPlugin}. A refused request gets 429, `Retry-After` and a coded JSON body.
 */
export function rateLimitHook(
  rules: RateLimitRule | readonly RateLimitRule[],
  options?: RateLimitMiddlewareOptions,
): onRequestHookHandler {
  const resolved = resolveRules(rules, options)
  const policy = resolved.policyHeader
  return function rateLimitOnRequest(
    request: FastifyRequest,
    reply: FastifyReply,
    done: HookHandlerDoneFunction,
  ): void {
    decide(
      resolved,
      new FastifyRateLimitRequest(request),
      (rateLimit, refused) => {
        // Lower case, as Fastify keeps reply headers.
        if (rateLimit !== undefined)
          void reply.header('ratelimit-policy', policy).header('ratelimit', rateLimit)
        if (refused === undefined) {
          done()
          return
        }
        // Answered here: a callback hook that sends without calling done() ends the request.
        void reply
          .header('retry-after', refused.retryAfter)
          .code(httpStatusOf(refused.body.code))
          .send(refused.body)
      },
      done,
    )
  }
}

/**
 * The Fastify plugin: limits every route of the instance it is registered on (and its children),
 * with the IETF `RateLimit-Policy` / `RateLimit` headers on every answer. Limiters stay the app's to
 * close. Options are checked at registration (`ERR_RATELIMIT_INVALID_OPTIONS`).
 *
 * ```ts
 * await app.register(rateLimitPlugin, { rules: { limiter, key: byIp() } })
 * ```
 */
export const rateLimitPlugin: FastifyPluginAsync<RateLimitPluginOptions> = fp(
  // fastify-plugin's types name whichever fastify the workspace hoists; the runtime takes 4 and 5.
  plugin as unknown as Parameters<typeof fp>[0],
  { name: '@scalekit/ratelimit', fastify: '4.x || 5.x' },
) as unknown as FastifyPluginAsync<RateLimitPluginOptions>

async function plugin(app: FastifyInstance, options: RateLimitPluginOptions): Promise<void> {
  const { rules, skip, skipPaths, dryRun, headers, onLimited } = options
  app.addHook('onRequest', rateLimitHook(rules, { skip, skipPaths, dryRun, headers, onLimited }))
  await Promise.resolve()
}

/**
 * What the keys read from a Fastify request, each read when a key function or `skip` asks for it
 * (`byIp()` reads the peer's address alone).
 */
class FastifyRateLimitRequest implements RateLimitRequest {
  readonly #request: FastifyRequest

  constructor(request: FastifyRequest) {
    this.#request = request
  }

  get remoteAddress(): string | undefined {
    return this.#request.raw.socket.remoteAddress
  }

  get headers(): IncomingHttpHeaders {
    return this.#request.headers
  }

  get user(): unknown {
    return (this.#request as { user?: unknown }).user
  }

  get method(): string {
    return this.#request.method
  }

  get route(): string | undefined {
    const url = (this.#request as { routeOptions?: { url?: unknown } }).routeOptions?.url
    return typeof url === 'string' ? url : undefined
  }

  get path(): string {
    return pathOf(this.#request.raw.url ?? '/')
  }
}

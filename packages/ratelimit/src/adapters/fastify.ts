import type {
  FastifyInstance,
  FastifyPluginAsync,
  FastifyReply,
  FastifyRequest,
  onRequestAsyncHookHandler,
} from 'fastify'
import fp from 'fastify-plugin'
import { httpStatusOf } from '../http-status'
import type { RateLimitRequest } from '../keys'
import { decide, type RateLimitMiddlewareOptions, type RateLimitRule, resolveRules } from './http'

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
): onRequestAsyncHookHandler {
  const resolved = resolveRules(rules, options)
  return async function rateLimitOnRequest(
    request: FastifyRequest,
    reply: FastifyReply,
  ): Promise<FastifyReply | undefined> {
    const verdict = await decide(resolved, requestOf(request))
    if (verdict === undefined) return undefined
    for (const [name, value] of verdict.headers) void reply.header(name, value)
    if (verdict.refused === undefined) return undefined
    // Answered here: returning the reply tells Fastify the request ends without its handler.
    return reply.code(httpStatusOf(verdict.refused.code)).send(verdict.refused)
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

function requestOf(request: FastifyRequest): RateLimitRequest {
  const route = (request as { routeOptions?: { url?: unknown } }).routeOptions?.url
  return {
    remoteAddress: request.raw.socket.remoteAddress,
    headers: request.headers,
    user: (request as { user?: unknown }).user,
    route: typeof route === 'string' ? route : undefined,
    method: request.method,
    path: (request.raw.url ?? '/').split('?')[0] ?? '/',
  }
}

import { AsyncResource } from 'node:async_hooks'
import type { FastifyPluginCallback, FastifyReply, FastifyRequest, onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import { runWithContext, setContext } from '../context'
import type { Sessions } from '../sessions/sessions'
import { authenticateRequest, resolveAuthenticate } from './credentials'
import type { AuthenticateOptions, Principal, Scheme } from './credentials'
import { errorReply } from './http'
import { loadRequestSession, resolveSessionMiddleware } from './session-core'
import type { SessionMiddlewareOptions } from './session-core'
import type { SessionHandle } from './session-handle'

export type { AuthenticateOptions, Principal, Scheme } from './credentials'
export type { CookieOptions } from './cookies'
export type { CsrfOptions } from './http'
export type { SessionMiddlewareOptions } from './session-core'
export type { SessionHandle } from './session-handle'

declare module 'fastify' {
  interface FastifyRequest {
    /** Who the request authenticated as (the `authenticate` hook), or null. */
    auth: Principal | null
    /** The server session (the `session` hook), or null. */
    serverSession: SessionHandle | null
  }
}

/** Each request's async context, re-entered before the handler (body parsing runs outside it). */
const resources = new WeakMap<FastifyRequest, AsyncResource>()

function send(reply: FastifyReply, error: unknown, schemes?: readonly Scheme[]): void {
  const { status, headers, body } = errorReply(error, schemes)
  void reply
    .code(status)
    .headers({ ...headers, 'cache-control': 'no-store' })
    .send(body)
}

function inContext(request: FastifyRequest, work: (done: () => void) => void, done: () => void): void {
  runWithContext(() => {
    if (!resources.has(request)) resources.set(request, new AsyncResource('scalekit-session'))
    work(done)
  })
}

const plugin: FastifyPluginCallback = (fastify, _options, done) => {
  fastify.decorateRequest('auth', null)
  fastify.decorateRequest('serverSession', null)
  fastify.addHook('preHandler', (request, _reply, next) => {
    const resource = resources.get(request)
    if (resource === undefined) next()
    else resource.runInAsyncScope(next)
  })
  done()
}

/**
 * The Fastify (4 or 5) plugin: declares `request.auth` and `request.serverSession` and keeps
 * `currentAuth()` / `currentSession()` readable in handlers. Register it, then put the
 * `authenticate` and `session` hooks on routes. It opens nothing, so it closes nothing.
 *
 * ```ts
 * await app.register(sessionPlugin)
 * app.get('/me', { onRequest: authenticate({ tokens }) }, async (request) => request.auth)
 * ```
 */
export const sessionPlugin: FastifyPluginCallback = fp(
  // fastify-plugin's types name whichever fastify the workspace hoists (4 here); the runtime takes 4 and 5.
  plugin as unknown as Parameters<typeof fp>[0],
  { name: '@scalekit/session', fastify: '4.x || 5.x' },
) as unknown as FastifyPluginCallback

/**
 * An `onRequest` hook that authenticates from the headers (never the URL) and checks roles and
 * scopes; answers 401 (with `WWW-Authenticate`) or 403 itself. Sets `request.auth`.
 */
export function authenticate(options: AuthenticateOptions): onRequestHookHandler {
  const config = resolveAuthenticate(options)
  const run = (request: FastifyRequest, reply: FastifyReply, next: () => void): void => {
    authenticateRequest(
      request.headers,
      config,
      (principal) => {
        request.auth = principal
        setContext({ auth: principal })
        next()
      },
      (error: unknown) => {
        send(reply, error, config.schemes)
      },
    )
  }
  if (!config.context)
    return function authenticateHook(request, reply, done) {
      run(request, reply, done)
    }
  return function authenticateHook(request, reply, done) {
    inContext(
      request,
      (next) => {
        run(request, reply, next)
      },
      done,
    )
  }
}

/**
 * An `onRequest` hook that loads the server session from its signed `__Host-` cookie into
 * `request.serverSession`, after the CSRF check; 503 when the store does not answer (fail closed).
 */
export function session(sessions: Sessions, options: SessionMiddlewareOptions): onRequestHookHandler {
  const config = resolveSessionMiddleware(sessions, options)
  return function sessionHook(request, reply, done) {
    inContext(
      request,
      (next) => {
        loadRequestSession(request, config, (cookie) => void reply.header('set-cookie', cookie)).then(
          (handle) => {
            request.serverSession = handle
            setContext({ session: handle })
            next()
          },
          (error: unknown) => {
            send(reply, error)
          },
        )
      },
      done,
    )
  }
}

import type { IncomingMessage, ServerResponse } from 'node:http'
import { runWithContext, setContext } from '../context'
import { SessionForbiddenError, SessionUnauthenticatedError } from '../errors'
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

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Who the request authenticated as (`authenticate`). */
      auth?: Principal
      /** The server session (`session`). */
      serverSession?: SessionHandle
    }
  }
}

/** An Express (4 or 5) / Connect middleware, typed on Node's http types so it needs no Express types. */
export type Middleware = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void) => void

interface Decorated extends IncomingMessage {
  auth?: Principal
  serverSession?: SessionHandle
}

function send(res: ServerResponse, error: unknown, schemes?: readonly Scheme[]): void {
  const reply = errorReply(error, schemes)
  if (res.headersSent) return
  res.statusCode = reply.status
  for (const [name, value] of Object.entries(reply.headers)) res.setHeader(name, value)
  res.setHeader('content-type', 'application/json')
  res.setHeader('cache-control', 'no-store')
  res.end(JSON.stringify(reply.body))
}

/**
 * Authenticates each request from its headers — `Authorization: Bearer` access or service tokens,
 * `Authorization: ApiKey` / `X-Api-Key` keys; never from the URL — and checks `roles` / `scopes`.
 * Sets `req.auth` and `currentAuth()`; answers 401 (with `WWW-Authenticate`) or 403 itself.
 *
 * ```ts
 * app.get('/admin', authenticate({ tokens, roles: ['admin'] }), handler)
 * ```
 */
export function authenticate(options: AuthenticateOptions): Middleware {
  const config = resolveAuthenticate(options)
  const run = (req: IncomingMessage, res: ServerResponse, next: (error?: unknown) => void): void => {
    authenticateRequest(
      req.headers,
      config,
      (principal) => {
        ;(req as Decorated).auth = principal
        setContext({ auth: principal })
        next()
      },
      (error: unknown) => {
        send(res, error, config.schemes)
      },
    )
  }
  if (!config.context) return run
  return (req, res, next) => {
    runWithContext(() => {
      run(req, res, next)
    })
  }
}

/** After `authenticate`: refuses (403) an access token without every one of `roles`. */
export function requireRoles(...roles: string[]): Middleware {
  return (req, res, next) => {
    const auth = (req as Decorated).auth
    if (auth === undefined) {
      send(res, new SessionUnauthenticatedError('requireRoles() runs after authenticate()'))
      return
    }
    const missing = auth.scheme === 'bearer' ? roles.filter((r) => !auth.roles.includes(r)) : roles
    if (missing.length > 0)
      send(res, new SessionForbiddenError(`missing role(s): ${missing.join(', ')}`, { reason: 'role' }))
    else next()
  }
}

/**
 * Loads the request's server session from its signed `__Host-` cookie into `req.serverSession`
 * (and `currentSession()`), after refusing (403) a cross-site unsafe request that carries the
 * cookie. A store that does not answer gives 503: server sessions fail closed.
 *
 * ```ts
 * app.use(session(sessions, { cookie: { secret: process.env.COOKIE_SECRET! } }))
 * ```
 */
export function session(sessions: Sessions, options: SessionMiddlewareOptions): Middleware {
  const config = resolveSessionMiddleware(sessions, options)
  return (req, res, next) => {
    runWithContext(() => {
      const request = { method: req.method ?? 'GET', headers: req.headers }
      loadRequestSession(request, config, (cookie) => res.appendHeader('set-cookie', cookie)).then(
        (handle) => {
          ;(req as Decorated).serverSession = handle
          setContext({ session: handle })
          next()
        },
        (error: unknown) => {
          send(res, error)
        },
      )
    })
  }
}

import { createChecks, describeValue } from '@scalekit/internal'
import type { Checks } from '@scalekit/internal'
import { SessionOptionsError, SessionUnauthenticatedError } from '../errors'
import type { Sessions } from '../sessions/sessions'
import { readCookie, resolveCookie, serializeCookie, signValue, unsignValue } from './cookies'
import type { CookieOptions, ResolvedCookie } from './cookies'
import { checkCrossSite } from './http'
import type { CsrfOptions, OriginHeaders } from './http'
import { RequestSession } from './session-handle'

/** Options of the adapters' `session`. */
export interface SessionMiddlewareOptions {
  /** The session cookie: a signing secret is required; the rest defaults to the strict settings. */
  readonly cookie: CookieOptions
  /** The Origin / Sec-Fetch-Site check of unsafe cookie-authenticated requests; `false` turns it off. @default {} */
  readonly csrf?: CsrfOptions | false
  /** Refuse (401) a request without a logged-in session (one with a `userId`). @default false */
  readonly required?: boolean
}

/** The checked options. */
export interface ResolvedSessionMiddleware {
  readonly sessions: Sessions
  readonly cookie: ResolvedCookie
  readonly allowedOrigins: readonly string[] | false
  readonly required: boolean
}

const checks: Checks = createChecks(SessionOptionsError)

/** Checks `session()` options once, when the middleware or hook is made. */
export function resolveSessionMiddleware(
  sessions: Sessions,
  options: SessionMiddlewareOptions,
): ResolvedSessionMiddleware {
  const manager: unknown = sessions
  if (typeof (manager as { load?: unknown } | null)?.load !== 'function')
    checks.fail(`session() takes the sessions from createSessions() first, got ${describeValue(manager)}`)
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    checks.fail(`session() takes { cookie: { secret } }, got ${describeValue(given)}`)
  const csrf: unknown = options.csrf ?? {}
  let allowedOrigins: readonly string[] | false = false
  if (csrf !== false) {
    const list: unknown = (csrf as CsrfOptions | null)?.allowedOrigins ?? []
    if (!Array.isArray(list) || list.some((o) => typeof o !== 'string' || !/^https?:\/\/[^/]+$/.test(o)))
      checks.fail(`session(): csrf.allowedOrigins must be origins like 'https://app.example.com'`)
    allowedOrigins = list as string[]
  }
  return {
    sessions,
    cookie: resolveCookie(options.cookie, 'session()'),
    allowedOrigins,
    required: checks.boolean('session(): required', options.required, false),
  }
}

/** What the core reads of a request. */
export interface SessionRequest {
  readonly method: string
  readonly headers: OriginHeaders & { readonly cookie?: string | undefined }
}

/**
 * Loads the request's session from its signed cookie (after the CSRF check when the request carries
 * the cookie) and returns its handle; `setCookie` receives each `Set-Cookie` value to send. Throws
 * the package's coded errors: 403 cross-site, 401 when `required` and not logged in, 503 store down.
 */
export async function loadRequestSession(
  request: SessionRequest,
  config: ResolvedSessionMiddleware,
  setCookie: (value: string) => void,
): Promise<RequestSession> {
  const { cookie, sessions } = config
  const raw = readCookie(request.headers.cookie, cookie.name)
  if (raw !== undefined && config.allowedOrigins !== false)
    checkCrossSite(request.method, request.headers, config.allowedOrigins)
  const id = raw === undefined ? undefined : unsignValue(raw, cookie)
  const record = id === undefined ? undefined : await sessions.load(id)
  if (config.required && record?.userId === undefined)
    throw new SessionUnauthenticatedError('this route needs a logged-in session')
  return new RequestSession(sessions, record, (newId, expiresAt) => {
    const value = newId === undefined ? undefined : signValue(newId, cookie)
    setCookie(serializeCookie(cookie, value, (expiresAt - Date.now()) / 1000))
  })
}

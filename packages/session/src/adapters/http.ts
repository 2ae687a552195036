import { SessionCrossSiteError, SessionError, SessionKeysUnavailableError } from '../errors'
import { httpStatusOf } from '../http-status'
import type { Scheme } from './credentials'

/** What an adapter sends for an error: the status from the one table, headers, and a JSON body with the code. */
export interface ErrorReply {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: { readonly code: string; readonly reason?: string }
}

const AUTH_SCHEME: Readonly<Record<Scheme, string>> = {
  bearer: 'Bearer',
  service: 'Bearer',
  'api-key': 'ApiKey',
}

/**
 * The reply for an error: 401 carries `WWW-Authenticate` (RFC 6750: `error="invalid_token"` with
 * the reason when a credential was refused), 403 for a missing role or scope carries
 * `insufficient_scope`; 503 for a remote key set that failed carries `Retry-After`. Anything that
 * is not a session error is a 500 with no detail.
 */
export function errorReply(error: unknown, schemes: readonly Scheme[] = ['bearer']): ErrorReply {
  if (!(error instanceof SessionError)) return { status: 500, headers: {}, body: { code: 'ERR_INTERNAL' } }
  const status = httpStatusOf(error)
  const reason = (error as { reason?: unknown }).reason
  const body = { code: error.code, ...(typeof reason === 'string' ? { reason } : {}) }
  const scheme = AUTH_SCHEME[schemes[0] ?? 'bearer']
  if (status === 401) {
    const refused = error.code === 'ERR_SESSION_UNAUTHENTICATED' ? '' : `, error="invalid_token"`
    const description = typeof reason === 'string' ? `, error_description="${reason}"` : ''
    return { status, headers: { 'www-authenticate': `${scheme} realm="api"${refused}${description}` }, body }
  }
  if (status === 403 && error.code === 'ERR_SESSION_FORBIDDEN')
    return {
      status,
      headers: { 'www-authenticate': `${scheme} realm="api", error="insufficient_scope"` },
      body,
    }
  if (error instanceof SessionKeysUnavailableError)
    return { status, headers: { 'retry-after': String(error.retryAfter) }, body }
  return { status, headers: {}, body }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE'])

/** Options of the CSRF check of cookie-authenticated requests. */
export interface CsrfOptions {
  /**
   * Other origins allowed to send unsafe requests with the cookie (`https://app.example.com`).
   * The request's own origin (its Host) is always allowed. @default []
   */
  readonly allowedOrigins?: readonly string[]
}

/** The request headers the check reads. */
export interface OriginHeaders {
  readonly origin?: string | undefined
  readonly host?: string | undefined
  readonly 'sec-fetch-site'?: string | string[] | undefined
}

/**
 * Refuses a cross-site unsafe request (POST, PUT, PATCH, DELETE…) that carries the session cookie:
 * `Sec-Fetch-Site` (sent by every current browser) must be `same-origin` or `none`, else `Origin`
 * must be the request's own origin or an allowed one. A request with neither header is not from a
 * browser's cross-site form or fetch, and passes.
 */
export function checkCrossSite(method: string, headers: OriginHeaders, allowed: readonly string[]): void {
  if (SAFE_METHODS.has(method.toUpperCase())) return
  const site = headers['sec-fetch-site']
  const origin = headers.origin
  if (origin !== undefined && origin !== 'null') {
    if (allowed.includes(origin)) return
    let host: string | undefined
    try {
      host = new URL(origin).host
    } catch {
      host = undefined
    }
    if (host !== undefined && host === headers.host && (site === undefined || site === 'same-origin')) return
    throw new SessionCrossSiteError('cross-site request with the session cookie refused (Origin)')
  }
  if (origin === 'null')
    throw new SessionCrossSiteError('cross-site request with the session cookie refused (Origin: null)')
  if (site !== undefined && site !== 'same-origin' && site !== 'none')
    throw new SessionCrossSiteError('cross-site request with the session cookie refused (Sec-Fetch-Site)')
}

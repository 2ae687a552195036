/**
 * The HTTP status of each error code, shared by the Express and Fastify adapters and any app error
 * handler: a bad, revoked or missing credential is 401 (with `WWW-Authenticate`), a missing role or
 * a cross-site request 403, a store or a remote key set that does not answer 503 (retry later: the
 * credential may be fine), a caller mistake 500.
 */
const STATUS: Readonly<Record<string, number>> = {
  ERR_SESSION_INVALID_TOKEN: 401,
  ERR_SESSION_REVOKED: 401,
  ERR_SESSION_UNAUTHENTICATED: 401,
  ERR_SESSION_INVALID_API_KEY: 401,
  ERR_SESSION_FORBIDDEN: 403,
  ERR_SESSION_CROSS_SITE: 403,
  ERR_SESSION_STORE_UNAVAILABLE: 503,
  ERR_SESSION_KEYS_UNAVAILABLE: 503,
  ERR_SESSION_CLOSED: 503,
}

/** The HTTP status for a session error code (or an error carrying one); 500 for anything else. */
export function httpStatusOf(codeOrError: unknown): number {
  const code =
    typeof codeOrError === 'string' ? codeOrError : (codeOrError as { code?: unknown } | null)?.code
  return typeof code === 'string' ? (STATUS[code] ?? 500) : 500
}

/**
 * The HTTP status of each error code, shared by the adapters and any app error handler: a missing
 * node is 503 (retry later), a bad token from a client is 400, anything else 500.
 */
const STATUS: Readonly<Record<string, number>> = {
  ERR_DB_INVALID_TOKEN: 400,
  ERR_DB_NO_REPLICA: 503,
  ERR_DB_PRIMARY_UNAVAILABLE: 503,
  ERR_DB_PRIMARY_READ_ONLY: 503,
  ERR_DB_CLOSED: 503,
  ERR_DB_TIMEOUT: 503,
}

/** The HTTP status for a db-router error code (or an error carrying one); 500 for anything else. */
export function httpStatusOf(codeOrError: unknown): number {
  const code =
    typeof codeOrError === 'string' ? codeOrError : (codeOrError as { code?: unknown } | null)?.code
  return typeof code === 'string' ? (STATUS[code] ?? 500) : 500
}

import type { DbRouterErrorCode } from './errors'

/**
 * The HTTP status of every error code, shared by the adapters, the errors' `statusCode` and any app
 * error handler. 503 (retry later) when the database side cannot serve now: a node down, slow or
 * closed, a bucket being moved. 400 only for what the HTTP client sent us (a consistency token). 500
 * for the rest: a bad option, argument or statement is the app's code, and a key the shard map has
 * no shard for is a map that does not cover the app's data — a 4xx would hide it from the alerts
 * that watch 5xx. Typed over every code, so a code added to `errors` without a status does not compile.
 */
export const HTTP_STATUS: { readonly [Code in DbRouterErrorCode]: number } = {
  ERR_DB: 500,
  ERR_DB_INVALID_OPTIONS: 500,
  ERR_DB_INVALID_ARGUMENT: 500,
  ERR_DB_CLOSED: 503,
  ERR_DB_PRIMARY_UNAVAILABLE: 503,
  ERR_DB_PRIMARY_READ_ONLY: 503,
  ERR_DB_NO_REPLICA: 503,
  ERR_DB_TIMEOUT: 503,
  ERR_DB_WRITE_ON_REPLICA: 500,
  ERR_DB_INVALID_TOKEN: 400,
  ERR_DB_SHARD_KEY_REQUIRED: 500,
  ERR_DB_NO_SHARD: 500,
  ERR_DB_CROSS_SHARD: 500,
  ERR_DB_MERGE_UNSUPPORTED: 500,
  // 503 only while every failed shard's own error is a 503 (see httpStatusOf).
  ERR_DB_SHARDS_FAILED: 503,
  ERR_DB_BUCKET_MOVE: 500,
  ERR_DB_BUCKET_MOVING: 503,
}

/**
 * `Retry-After` seconds for the codes whose wait is known to be short: a bucket's fence lasts while
 * its rows are copied (the write already waited `map.fenceWait` in the router).
 */
const RETRY_AFTER_SECONDS: { readonly [Code in DbRouterErrorCode]?: number } = {
  ERR_DB_BUCKET_MOVING: 1,
}

const codeOf = (codeOrError: unknown): string | undefined => {
  const code =
    typeof codeOrError === 'string' ? codeOrError : (codeOrError as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

const isKnown = (code: string | undefined): code is DbRouterErrorCode =>
  code !== undefined && Object.hasOwn(HTTP_STATUS, code)

/**
 * The HTTP status for a db-router error code (or an error carrying one); 500 for anything else.
 * Given an `ERR_DB_SHARDS_FAILED` error, 503 only if each failed shard's error is itself a 503: a
 * statement that fails on every shard (an SQL error) is not fixed by retrying.
 */
export function httpStatusOf(codeOrError: unknown): number {
  const code = codeOf(codeOrError)
  if (!isKnown(code)) return 500
  if (code === 'ERR_DB_SHARDS_FAILED' && typeof codeOrError === 'object' && codeOrError !== null) {
    const failures = (codeOrError as { failures?: unknown }).failures
    if (
      Array.isArray(failures) &&
      failures.some((f) => httpStatusOf((f as { error?: unknown } | null)?.error) !== 503)
    )
      return 500
  }
  return HTTP_STATUS[code]
}

/** The response headers for a db-router error code: `Retry-After` where the wait is known; else `undefined`. */
export function httpHeadersOf(codeOrError: unknown): Readonly<Record<string, string>> | undefined {
  const code = codeOf(codeOrError)
  const seconds = isKnown(code) ? RETRY_AFTER_SECONDS[code] : undefined
  return seconds === undefined ? undefined : { 'retry-after': String(seconds) }
}

/**
 * The HTTP status of each error code, shared by the Express and Fastify adapters and any app error
 * handler: a refused request is 429, a closed limiter 503, a caller mistake 500.
 */
const STATUS: Readonly<Record<string, number>> = {
  ERR_RATELIMIT_EXCEEDED: 429,
  ERR_RATELIMIT_CLOSED: 503,
  ERR_RATELIMIT_UNAVAILABLE: 503,
}

/** The HTTP status for a rate-limit error code (or an error carrying one); 500 for anything else. */
export function httpStatusOf(codeOrError: unknown): number {
  const code =
    typeof codeOrError === 'string' ? codeOrError : (codeOrError as { code?: unknown } | null)?.code
  return typeof code === 'string' ? (STATUS[code] ?? 500) : 500
}

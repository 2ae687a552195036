import pino from 'pino'
import { ObservabilityOptionsError } from '../errors'
import { getRequestContext } from '../context'

/** A pino logger (the type of {@link createLogger}'s result): it fits every scalekit package's `logger` option. */
export type ObservabilityLogger = pino.Logger

/**
 * Paths censored in every log line by default: credentials in request and response headers, and
 * fields named like secrets at the top level and one level down.
 */
export const DEFAULT_REDACT_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["proxy-authorization"]',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  'authorization',
  'cookie',
  'password',
  'token',
  'accessToken',
  'refreshToken',
  'idToken',
  'secret',
  'apiKey',
  '*.authorization',
  '*.cookie',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.refreshToken',
  '*.idToken',
  '*.secret',
  '*.apiKey',
]

/** Options of {@link createLogger}: pino's own, plus the redaction additions. */
export interface LoggerOptions extends Omit<pino.LoggerOptions, 'mixin' | 'redact'> {
  /** Paths censored beside {@link DEFAULT_REDACT_PATHS} (pino's path syntax). @default [] */
  redact?: readonly string[]
  /** Where lines go. @default standard output */
  destination?: pino.DestinationStream
}

/**
 * A pino logger whose every line carries the current request context — `requestId`, `traceId`,
 * `spanId`, `route` — and which censors authorization headers, cookies and token-like fields.
 * Pass it as the `logger` of any scalekit package.
 *
 * ```ts
 * const logger = createLogger({ level: 'info' })
 * logger.info({ orderId: 42 }, 'order placed') // + requestId, traceId… inside a request
 * ```
 */
export function createLogger(options: LoggerOptions = {}): ObservabilityLogger {
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    throw new ObservabilityOptionsError(`createLogger() takes an options object, got ${typeof given}`)
  const { redact = [], destination, ...rest } = options
  if (!Array.isArray(redact) || !redact.every((path) => typeof path === 'string'))
    throw new ObservabilityOptionsError('redact must be an array of paths such as "body.card"')
  const settings: pino.LoggerOptions = {
    ...rest,
    redact: { paths: [...DEFAULT_REDACT_PATHS, ...redact], censor: '[redacted]' },
    mixin: contextFields,
  }
  let logger: ObservabilityLogger
  try {
    logger = destination === undefined ? pino(settings) : pino(settings, destination)
  } catch (error) {
    throw new ObservabilityOptionsError(`createLogger(): ${String(error)}`, { cause: error })
  }
  created.add(logger)
  return logger
}

/** The loggers {@link createLogger} made: their access lines can skip redaction. */
const created = new WeakSet<object>()

/**
 * Where the HTTP middleware writes its access lines: for a logger of {@link createLogger}, a child
 * without redaction — an access line holds only fields the middleware builds (checked ids, the
 * route template, method, status, duration), and redaction's wildcard paths cost more than the
 * rest of the line; any other logger as it is.
 */
export function accessLogOf<T extends object>(logger: T): T {
  if (!created.has(logger)) return logger
  return (logger as unknown as ObservabilityLogger).child({}, { redact: [] }) as unknown as T
}

function contextFields(): object {
  const context = getRequestContext()
  // A new object each time: pino merges the line's fields into what the mixin returns.
  if (context === undefined) return {}
  const route = context.route
  return route === undefined
    ? { requestId: context.requestId, traceId: context.traceId, spanId: context.spanId }
    : { requestId: context.requestId, traceId: context.traceId, spanId: context.spanId, route }
}

import { DbPrimaryUnavailableError, DbRouterError, DbTimeoutError } from '../errors'

/** SQLSTATE 25006: a write reached a read-only (standby or read-only session) node; nothing was applied. */
export const READ_ONLY_SQL_TRANSACTION = '25006'
/** SQLSTATE 40001: serialization failure; on a standby, a recovery conflict cancelled the read. */
export const SERIALIZATION_FAILURE = '40001'
/** SQLSTATE 40P01: deadlock; on a standby, also a recovery-conflict outcome. */
export const DEADLOCK_DETECTED = '40P01'

/** The SQLSTATE (or Node error code) of an error, if it has one. */
export function errorCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null) return undefined
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' ? code : undefined
}

/** A Node system error code (`ECONNRESET`, `EAI_AGAIN`): E, capitals, and only `EAI_` has an underscore. */
const SYSTEM_ERROR_CODE = /^E(AI_)?[A-Z]+$/

/** True for a five-character SQLSTATE sent by the server (as opposed to a Node/network error). */
function isSqlState(code: string): boolean {
  return /^[0-9A-Z]{5}$/.test(code)
}

/**
 * The node could not serve the statement at all: no connection, a dropped connection, a timeout, a
 * server shutting down or refusing connections. Such a read is safe to send to another node, and
 * such an error counts against the node's circuit breaker; SQL errors (bad syntax, constraint
 * violations) do neither.
 */
export function isConnectionError(error: unknown): boolean {
  // Ours: a timeout is the node's failure; a closed router or a caller's mistake is not.
  if (error instanceof DbRouterError)
    return error instanceof DbTimeoutError || error instanceof DbPrimaryUnavailableError
  const code = errorCode(error)
  if (code !== undefined && isSqlState(code)) {
    // 08: connection exception; 57P01-57P05: shutdown, crash, cannot connect now, idle timeout; 53300: too many connections.
    return code.startsWith('08') || /^57P0[1-5]$/.test(code) || code === '53300'
  }
  // A system error of Node or of the breaker (ECONNREFUSED, ECONNRESET, ETIMEDOUT, EPIPE, EAI_AGAIN,
  // EOPENBREAKER…); an app's own coded error thrown in a transaction (ERR_…) is not the node's failure.
  if (code !== undefined) return SYSTEM_ERROR_CODE.test(code)
  // pg's own connection failures carry no code; match its messages exactly, not user errors that mention "timeout".
  const message = error instanceof Error ? error.message : ''
  return /^(Connection terminated|Query read timeout|timeout exceeded when trying to connect|Client has encountered a connection error|Client was closed)/.test(
    message,
  )
}

/** `error` if it is an Error, else an Error saying what was thrown. */
export function asError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error))
}

import type { QueryConfig } from 'pg'
import { DbInvalidArgumentError } from '../errors'

/** Per-call routing options: the third argument of `query(text, values, options)`, or the second after a config object. */
export interface QueryOptions {
  /**
   * `primary` sends the statement to the primary whatever it is. `replica` sends it to a replica
   * even if the classifier only guessed it writes (it did not parse, or calls a function that may
   * write); a provable write (INSERT, FOR UPDATE, nextval…) is refused with `ERR_DB_WRITE_ON_REPLICA`.
   */
  role?: 'primary' | 'replica'
}

/** A pg query config with the client-side timeout pg reads per query. */
export type TimedQueryConfig = QueryConfig<unknown[]> & { query_timeout?: number }

/** The normalised arguments of one `query()` call. */
export interface QueryArgs {
  readonly config: TimedQueryConfig
  readonly options: QueryOptions
}

/** pg's `query(text | config, values?)` plus our options; callbacks and Submittables are refused. */
export function normalizeQueryArgs(first: unknown, second: unknown, third: unknown, queryTimeout: number): QueryArgs {
  if (typeof second === 'function' || typeof third === 'function') {
    throw new DbInvalidArgumentError('query callbacks are not supported: await the returned promise')
  }
  let config: TimedQueryConfig
  if (typeof first === 'string') config = { text: first }
  else if (typeof first === 'object' && first !== null && typeof (first as { text?: unknown }).text === 'string') {
    if (typeof (first as { submit?: unknown }).submit === 'function') {
      throw new DbInvalidArgumentError('Submittables (pg-cursor, pg-query-stream) need a session: use db.connect()')
    }
    config = { ...(first as TimedQueryConfig) }
  } else throw new DbInvalidArgumentError('query needs SQL text or a config object with a text')
  let options: QueryOptions = {}
  if (Array.isArray(second)) config.values = second as unknown[]
  else if (second !== undefined && second !== null) options = second
  if (third !== undefined && third !== null) options = third
  const role: unknown = options.role
  if (role !== undefined && role !== 'primary' && role !== 'replica') {
    throw new DbInvalidArgumentError(`role must be 'primary' or 'replica', got ${JSON.stringify(role)}`)
  }
  config.query_timeout ??= queryTimeout
  return { config, options }
}

/** True when the statement can be wrapped as `BEGIN; text; COMMIT; SELECT lsn` in one simple-protocol round trip. */
export function isPlainText(config: TimedQueryConfig): boolean {
  const c = config as TimedQueryConfig & { rowMode?: unknown; types?: unknown; name?: unknown }
  return (c.values === undefined || c.values.length === 0) && c.rowMode === undefined && c.types === undefined && c.name === undefined
}

/** A statement of our own (BEGIN, COMMIT, ROLLBACK…) with a client-side timeout, as every remote call has. */
export function timed(text: string, timeoutMs: number): TimedQueryConfig {
  return { text, query_timeout: timeoutMs }
}

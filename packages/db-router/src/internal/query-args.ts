import type { QueryConfig } from 'pg'
import { DbRouterArgumentError } from '../errors'
import type { QueryOptions } from '../types'

/** A pg query config with the client-side timeout pg reads per query. */
export type TimedQueryConfig = QueryConfig<unknown[]> & { query_timeout?: number }

/**
 * A query given as text (and values): what a pool can take as `query(text, values)` — pg's fast
 * path — when the timeout is the pool's own. A config object is copied by pg on every call.
 */
export class TextQuery implements TimedQueryConfig {
  readonly text: string
  values: unknown[] | undefined
  query_timeout: number

  constructor(text: string, values: unknown[] | undefined, queryTimeout: number) {
    this.text = text
    this.values = values
    this.query_timeout = queryTimeout
  }
}

/** pg's `query(text | config, values?)`; callbacks and Submittables are refused. Options are read by {@link roleOf}. */
export function normalizeQueryArgs(
  first: unknown,
  second: unknown,
  third: unknown,
  queryTimeout: number,
): TimedQueryConfig {
  if (typeof second === 'function' || typeof third === 'function') {
    throw new DbRouterArgumentError('query callbacks are not supported: await the returned promise')
  }
  const values = Array.isArray(second) ? (second as unknown[]) : undefined
  if (typeof first === 'string') return new TextQuery(first, values, queryTimeout)
  if (typeof first === 'object' && first !== null && typeof (first as { text?: unknown }).text === 'string') {
    if (typeof (first as { submit?: unknown }).submit === 'function') {
      throw new DbRouterArgumentError(
        'Submittables (pg-cursor, pg-query-stream) need a session: use db.connect()',
      )
    }
    const config: TimedQueryConfig = { ...(first as TimedQueryConfig) }
    if (values !== undefined) config.values = values
    config.query_timeout ??= queryTimeout
    return config
  }
  throw new DbRouterArgumentError('query needs SQL text or a config object with a text')
}

/** The `role` of a call's options (the second argument when it is not values, else the third), validated. */
export function roleOf(second: unknown, third: unknown): QueryOptions['role'] {
  const options = third ?? (Array.isArray(second) ? undefined : second)
  if (options === undefined || options === null) return undefined
  const role: unknown = (options as QueryOptions).role
  if (role !== undefined && role !== 'primary' && role !== 'replica') {
    throw new DbRouterArgumentError(`role must be 'primary' or 'replica', got ${JSON.stringify(role)}`)
  }
  return role
}

/** True when the statement can be wrapped as `BEGIN; text; COMMIT; SELECT lsn` in one simple-protocol round trip. */
export function isPlainText(config: TimedQueryConfig): boolean {
  const c = config as TimedQueryConfig & { rowMode?: unknown; types?: unknown; name?: unknown }
  return (
    (c.values === undefined || c.values.length === 0) &&
    c.rowMode === undefined &&
    c.types === undefined &&
    c.name === undefined
  )
}

/** A statement of our own (BEGIN, COMMIT, ROLLBACK…) with a client-side timeout, as every remote call has. */
export function timed(text: string, timeoutMs: number): TimedQueryConfig {
  return { text, query_timeout: timeoutMs }
}

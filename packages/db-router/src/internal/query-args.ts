import { describeValue, MAX_DURATION_MS } from '@scalekit/internal'
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

/**
 * pg's `query(text | config, values?)`, checked before anything is sent (`ERR_DB_INVALID_ARGUMENT`,
 * which no breaker counts): callbacks and Submittables are refused, and so is what pg would fail on
 * later or send as nonsense — values that are not an array, a value pg cannot serialise (a function,
 * a symbol, a cycle, a BigInt inside an object), a `query_timeout` that is not a duration Node's
 * timers can hold. Options are read by {@link roleOf}.
 */
export function normalizeQueryArgs(
  first: unknown,
  second: unknown,
  third: unknown,
  queryTimeout: number,
): TimedQueryConfig {
  if (typeof second === 'function' || typeof third === 'function') {
    throw new DbRouterArgumentError('query callbacks are not supported: await the returned promise')
  }
  if (second !== undefined && second !== null && typeof second !== 'object')
    throw new DbRouterArgumentError(`values must be an array, got ${describeValue(second)}`)
  if (third !== undefined && third !== null && (typeof third !== 'object' || Array.isArray(third)))
    throw new DbRouterArgumentError(
      `query options must be an object such as { role }, got ${describeValue(third)}`,
    )
  const values = Array.isArray(second) ? (second as unknown[]) : undefined
  if (values !== undefined) checkValues(values, 'values')
  if (typeof first === 'string') return new TextQuery(first, values, queryTimeout)
  if (typeof first === 'object' && first !== null && typeof (first as { text?: unknown }).text === 'string') {
    if (typeof (first as { submit?: unknown }).submit === 'function') {
      throw new DbRouterArgumentError(
        'Submittables (pg-cursor, pg-query-stream) need a session: use db.connect()',
      )
    }
    const config: TimedQueryConfig = { ...(first as TimedQueryConfig) }
    const own: unknown = config.values
    if (own !== undefined && own !== null) {
      if (!Array.isArray(own))
        throw new DbRouterArgumentError(`config.values must be an array, got ${describeValue(own)}`)
      if (values === undefined) checkValues(own, 'config.values')
    }
    const timeout: unknown = config.query_timeout
    if (
      timeout !== undefined &&
      !(typeof timeout === 'number' && timeout > 0 && timeout <= MAX_DURATION_MS && Number.isFinite(timeout))
    )
      throw new DbRouterArgumentError(
        `config.query_timeout must be ms in (0, ${MAX_DURATION_MS}], got ${describeValue(timeout)}`,
      )
    if (values !== undefined) config.values = values
    config.query_timeout ??= queryTimeout
    return config
  }
  throw new DbRouterArgumentError(
    `query needs SQL text or a config object with a text, got ${describeValue(first)}`,
  )
}

/** Each value is one pg can send: scalars, dates, bytes, arrays of them, JSON-serialisable objects. */
function checkValues(values: readonly unknown[], name: string): void {
  for (let i = 0; i < values.length; i++) {
    const v = values[i]
    // The usual case, checked first: nothing to walk.
    if (v === null || v === undefined || typeof v === 'string' || typeof v === 'number') continue
    checkValue(v, `${name}[${i}]`, new Set())
  }
}

function checkValue(v: unknown, where: string, seen: Set<unknown>): void {
  switch (typeof v) {
    case 'function':
    case 'symbol':
      throw new DbRouterArgumentError(`${where} cannot be sent to Postgres: ${describeValue(v)}`)
    case 'object':
      break
    default:
      return
  }
  if (v === null || v instanceof Date || ArrayBuffer.isView(v)) return
  if (typeof (v as { toPostgres?: unknown }).toPostgres === 'function') return
  if (seen.has(v)) throw new DbRouterArgumentError(`${where} cannot be sent to Postgres: it contains itself`)
  if (Array.isArray(v)) {
    seen.add(v)
    for (let i = 0; i < v.length; i++) checkValue(v[i], `${where}[${i}]`, seen)
    seen.delete(v)
    return
  }
  // pg sends any other object as JSON: what JSON.stringify refuses (a cycle, a BigInt) pg would throw on.
  try {
    JSON.stringify(v)
  } catch (error) {
    throw new DbRouterArgumentError(
      `${where} cannot be sent to Postgres as JSON: ${error instanceof Error ? error.message : String(error)}`,
      { cause: error },
    )
  }
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

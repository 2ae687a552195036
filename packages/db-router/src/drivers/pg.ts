import pg from 'pg'
import type { Pool, PoolConfig, QueryResultRow } from 'pg'

/** A pool and whether the router created it (and so ends it on close). */
export interface OwnedPool {
  readonly pool: Pool
  readonly owned: boolean
}

/** Timeouts applied to pools the router creates. */
export interface PoolTimeouts {
  readonly connect: number
  /** Also the default of sessions handed out by `connect()`. */
  readonly query: number
}

const READ_ONLY_OPTION = '-c default_transaction_read_only=on'

/** True for an existing pg Pool (or a Pool-like from another copy of pg). */
export function isPool(value: unknown): value is Pool {
  if (value instanceof pg.Pool) return true
  if (typeof value !== 'object' || value === null) return false
  const v = value as { query?: unknown; connect?: unknown; end?: unknown; totalCount?: unknown }
  return typeof v.query === 'function' && typeof v.connect === 'function' && typeof v.end === 'function' && typeof v.totalCount === 'number'
}

/**
 * Opens (lazily: pg connects on first use) the pool of one node. A replica's sessions are made
 * read-only (`default_transaction_read_only`), so a statement misclassified as a read is refused
 * with 25006 (and retried on the primary) instead of being applied — even on a replica that was
 * promoted and not yet detected.
 */
export function openPool(source: string | Pool | PoolConfig, readOnly: boolean, timeouts: PoolTimeouts): OwnedPool {
  if (isPool(source)) {
    if (readOnly) makeSessionsReadOnly(source)
    return { pool: source, owned: false }
  }
  const config: PoolConfig = typeof source === 'string' ? { connectionString: source } : { ...source }
  config.connectionTimeoutMillis ??= timeouts.connect
  config.query_timeout ??= timeouts.query
  // An `options` parameter in the URL would replace ours (pg lets the URL win): then set it per session.
  const urlHasOptions = /[?&]options=/.test(config.connectionString ?? '')
  if (readOnly && !urlHasOptions) config.options = config.options === undefined ? READ_ONLY_OPTION : `${config.options} ${READ_ONLY_OPTION}`
  const pool = new pg.Pool(config)
  if (readOnly && urlHasOptions) makeSessionsReadOnly(pool)
  // An idle client whose server went away emits 'error' on the pool; unhandled, it would crash the
  // process. The health check and the next query see the failure; nothing to do here.
  pool.on('error', () => undefined)
  return { pool, owned: true }
}

/** Each new session of `pool` runs `SET default_transaction_read_only = on` before anything else (pg queues it first). */
function makeSessionsReadOnly(pool: Pool): void {
  pool.on('connect', (client) => {
    client.query('SET default_transaction_read_only = on').catch(() => undefined)
  })
}

/** Runs one small query with a hard deadline (also covering connection acquisition, which `query_timeout` does not). */
export async function timedQuery<R extends QueryResultRow>(pool: Pool, text: string, values: unknown[], timeoutMs: number): Promise<R[]> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      reject(Object.assign(new Error(`query timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' }))
    }, timeoutMs)
  })
  try {
    const query = pool.query<R>({ text, values, query_timeout: timeoutMs } as pg.QueryConfig)
    query.catch(() => undefined)
    const result = await Promise.race([query, deadline])
    return result.rows
  } finally {
    clearTimeout(timer)
  }
}

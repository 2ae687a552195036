import pg from 'pg'
import type { ClientConfig, Pool, PoolClient, PoolConfig } from 'pg'

/** The pool of one node, whether the router created it (and so ends it on close), and how its sessions are made read-only. */
export interface NodePool {
  readonly pool: Pool
  readonly owned: boolean
  /**
   * For a replica pool the app passed in: what makes a session read-only the first time the router
   * uses it (resolves at once for a session already done). Undefined when nothing is needed.
   */
  readonly prepare: ((client: PoolClient) => Promise<void>) | undefined
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
  return (
    typeof v.query === 'function' &&
    typeof v.connect === 'function' &&
    typeof v.end === 'function' &&
    typeof v.totalCount === 'number'
  )
}

/**
 * The pool of one node (pg connects lazily, on first use). A replica's sessions are made read-only
 * (`default_transaction_read_only`), so a statement misclassified as a read is refused with 25006
 * (and retried on the primary) instead of being applied — even on a replica that was promoted and
 * not yet detected. A pool the router creates gets it in each connection's startup `options`; a pool
 * the app passed in is never changed (its settings are its owner's): each of its sessions gets a
 * `SET` the first time the router uses it.
 *
 * A pool the router creates has no pool-wide `connectionTimeoutMillis`: the dispatcher bounds every
 * checkout with the node's deadline sweep instead of pg-pool's timer per checkout, and new
 * connections are bounded by the client. A replica pool has no `query_timeout` either (the sweep
 * bounds its statements); the primary keeps pg's, because the sessions `connect()` and
 * `transaction()` hand out are used directly.
 */
export function openPool(
  source: string | Pool | PoolConfig,
  readOnly: boolean,
  timeouts: PoolTimeouts,
): NodePool {
  if (isPool(source))
    return { pool: source, owned: false, prepare: readOnly ? readOnlySessions() : undefined }
  const config: PoolConfig = typeof source === 'string' ? { connectionString: source } : { ...source }
  if (readOnly) Object.assign(config, readOnlyStartup(config))
  // Connection establishment bounded by the client itself: pg-pool's own `connectionTimeoutMillis`
  // would also start a timer on every checkout, which the dispatcher already bounds (statements and
  // the sessions it checks out alike).
  config.Client ??= clientWithConnectTimeout(config.connectionTimeoutMillis ?? timeouts.connect)
  // The sessions `connect()` and `transaction()` hand out are used directly: pg's own timer bounds
  // each of their statements.
  if (!readOnly) config.query_timeout ??= timeouts.query
  // The health checks use a connection every interval, so pg-pool's idle timeout never empties the
  // pool: its idle connections must not hold the process open (a router never closed would keep an
  // idle app alive forever, where a raw pg.Pool lets it exit).
  config.allowExitOnIdle ??= true
  const pool = new pg.Pool(config)
  // An idle client whose server went away emits 'error' on the pool; unhandled, it would crash the
  // process. The health check and the next query see the failure; nothing to do here.
  pool.on('error', () => undefined)
  return { pool, owned: true, prepare: undefined }
}

/** pg's Client with a connect timeout of its own (pg-pool's `Client` option, there for such extensions). */
function clientWithConnectTimeout(ms: number): typeof pg.Client {
  return class TimedClient extends pg.Client {
    constructor(config?: string | ClientConfig) {
      super(
        typeof config === 'string'
          ? { connectionString: config, connectionTimeoutMillis: ms }
          : { ...config, connectionTimeoutMillis: ms },
      )
    }
  }
}

/**
 * The startup settings that make every session read-only: in the URL when it carries an `options`
 * parameter (pg lets the URL win), else in `options`.
 */
function readOnlyStartup(config: PoolConfig): Pick<PoolConfig, 'connectionString' | 'options'> {
  const url = config.connectionString
  if (url !== undefined && /[?&]options=/.test(url)) {
    const rewritten = withReadOnlyOption(url)
    if (rewritten !== undefined) return { connectionString: rewritten }
  }
  return { options: appendOption(config.options) }
}

function appendOption(options: string | undefined): string {
  if (options === undefined || options === '') return READ_ONLY_OPTION
  return options.includes('default_transaction_read_only') ? options : `${options} ${READ_ONLY_OPTION}`
}

/** The URL with our option added to its own `options` parameter; undefined if it does not parse as a URL. */
function withReadOnlyOption(connectionString: string): string | undefined {
  try {
    const url = new URL(connectionString)
    url.searchParams.set('options', appendOption(url.searchParams.get('options') ?? undefined))
    return url.toString()
  } catch {
    return undefined
  }
}

/** Makes each session of an app's replica pool read-only on its first use by the router (a WeakSet: sessions the pool drops are forgotten). */
function readOnlySessions(): (client: PoolClient) => Promise<void> {
  const done = new WeakSet<PoolClient>()
  return async (client) => {
    if (done.has(client)) return
    await client.query('SET default_transaction_read_only = on')
    done.add(client)
  }
}

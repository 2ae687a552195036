import pg from 'pg'
import type { ClientConfig, Pool, PoolClient, PoolConfig, QueryResult, QueryResultRow } from 'pg'
import { DbTimeoutError } from '../errors'
import { asError, isConnectionError } from '../internal/pg-errors'
import { TextQuery } from '../internal/query-args'
import type { TimedQueryConfig } from '../internal/query-args'

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
 *
 * A replica's pool has no pool-wide `query_timeout` or `connectionTimeoutMillis`: every call on it
 * goes through a {@link Dispatcher}, whose deadlines cost no timer per query (pg sets two), and new
 * connections are bounded by the client's own connect timeout. The primary keeps both, because the
 * sessions `connect()` hands out are used directly.
 */
export function openPool(source: string | Pool | PoolConfig, readOnly: boolean, timeouts: PoolTimeouts): OwnedPool {
  if (isPool(source)) {
    if (readOnly) makeSessionsReadOnly(source)
    return { pool: source, owned: false }
  }
  const config: PoolConfig = typeof source === 'string' ? { connectionString: source } : { ...source }
  if (readOnly) {
    config.Client ??= clientWithConnectTimeout(config.connectionTimeoutMillis ?? timeouts.connect)
  } else {
    config.connectionTimeoutMillis ??= timeouts.connect
    config.query_timeout ??= timeouts.query
  }
  const pool = new pg.Pool(config)
  if (readOnly) makeSessionsReadOnly(pool)
  // An idle client whose server went away emits 'error' on the pool; unhandled, it would crash the
  // process. The health check and the next query see the failure; nothing to do here.
  pool.on('error', () => undefined)
  return { pool, owned: true }
}

/** pg's Client with a connect timeout of its own (pg-pool would otherwise also time every checkout). */
function clientWithConnectTimeout(ms: number): typeof pg.Client {
  return class TimedClient extends pg.Client {
    constructor(config?: string | ClientConfig) {
      super(typeof config === 'string' ? { connectionString: config, connectionTimeoutMillis: ms } : { ...config, connectionTimeoutMillis: ms })
    }
  }
}

/**
 * Makes every new session of `pool` read-only through the startup `options` of its connections:
 * in the URL when it carries an `options` parameter (pg lets the URL win), else in the pool's
 * settings. A URL that cannot be rewritten falls back to a `SET default_transaction_read_only = on`
 * that pg queues before anything else on each session.
 */
function makeSessionsReadOnly(pool: Pool): void {
  const settings = pool.options as PoolConfig | undefined
  const url = settings?.connectionString ?? ''
  const rewritten = /[?&]options=/.test(url) ? withReadOnlyOption(url) : url
  if (settings === undefined || rewritten === undefined) {
    setOnConnect(pool)
    return
  }
  if (rewritten === url) settings.options = appendOption(settings.options)
  else settings.connectionString = rewritten
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

function setOnConnect(pool: Pool): void {
  pool.on('connect', (client) => {
    client.query('SET default_transaction_read_only = on').catch(() => undefined)
  })
}

type Release = (error?: Error | boolean) => void

/** Told when an observed call starts and ends (a node's in-flight count, latency average, breaker). */
export interface CallObserver {
  began(): void
  /** `ms` from the call to its end at `at` (`performance.now()`); `error` when it failed or timed out. */
  ended(ms: number, at: number, error: unknown): void
}

/** Where a dispatched statement's outcome goes: a routed read, or the settle functions of a promise. */
export interface CallSink {
  answer(result: QueryResult): void
  fail(error: unknown): void
}

/** One statement on its way: waiting for a connection, then for its answer. A link of its dispatcher's list of pending calls. */
class Call {
  deadline: number
  prev: Call | undefined = undefined
  next: Call | undefined = undefined
  /** `performance.now()` at the call, when observed. */
  started = 0
  observer: CallObserver | undefined = undefined
  /** Set once the statement is sent: what to give the connection back (or close it) with. */
  release: Release | undefined = undefined
  done = false
  readonly sink: CallSink
  readonly queryTimeout: number

  constructor(deadline: number, queryTimeout: number, sink: CallSink) {
    this.deadline = deadline
    this.queryTimeout = queryTimeout
    this.sink = sink
  }
}

const ignore = (): void => undefined

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function'
}

/**
 * Sends statements over one pool the way `pool.query` does (check out, query, release), with a
 * deadline per call swept by ONE timer while calls are pending, instead of pg's timer per query and
 * pg-pool's per checkout. A call gets `connectTimeout` to obtain a connection and then its query
 * timeout for the answer; past either it fails with `ERR_DB_TIMEOUT`, and a connection it held is
 * closed (as pg's own `query_timeout` does), so a stuck server cannot keep it. SQL errors leave the
 * connection in the pool; connection errors remove it.
 */
export class Dispatcher {
  readonly pool: Pool
  readonly #connectTimeout: number
  /** Pending calls, newest first (a list: adding and removing cost no hashing). */
  #head: Call | undefined = undefined
  #pending = 0
  /** Clients given a permanent 'error' listener: one that fails mid-query must not crash the process. */
  readonly #guarded = new WeakSet<PoolClient>()
  #timer: NodeJS.Timeout | undefined
  #every = 0

  constructor(pool: Pool, connectTimeout: number) {
    this.pool = pool
    this.#connectTimeout = connectTimeout
  }

  /** Calls waiting for a connection or an answer. */
  get pending(): number {
    return this.#pending
  }

  /** Sends `config` and resolves with pg's result (see {@link send}). */
  query<R extends QueryResultRow = QueryResultRow>(config: TimedQueryConfig, queryTimeout: number, observer?: CallObserver): Promise<QueryResult<R>> {
    return new Promise<QueryResult<R>>((resolve, reject) => {
      this.send(config, queryTimeout, observer, { answer: resolve as (result: QueryResult) => void, fail: reject })
    })
  }

  /**
   * Sends `config` and hands the outcome to `sink` (a routed read's path: no promise of its own).
   * Text with values takes pg's fast path (a config object is copied by pg per call). `observer`
   * is told of the call's start and end (the router's own checks have none).
   */
  send(config: TimedQueryConfig, queryTimeout: number, observer: CallObserver | undefined, sink: CallSink): void {
    const call = new Call(Date.now() + this.#connectTimeout, queryTimeout, sink)
    if (observer !== undefined) {
      call.observer = observer
      call.started = performance.now()
      observer.began()
    }
    const head = this.#head
    if (head !== undefined) {
      head.prev = call
      call.next = head
    }
    this.#head = call
    this.#pending += 1
    this.#arm(Math.min(this.#connectTimeout, queryTimeout))
    const onClient = (error: Error | null | undefined, client: PoolClient | undefined, release: Release): void => {
      if (call.done) {
        // Gave up while waiting: the connection goes straight back.
        if (client !== undefined) release()
        return
      }
      if ((error !== undefined && error !== null) || client === undefined) {
        const failure = error ?? new Error('the pool gave no client')
        this.#finish(call, failure)
        sink.fail(failure)
        return
      }
      this.#send(call, config, client, release)
    }
    let returned: unknown
    try {
      // pg-pool takes a callback (no promise per checkout); a Pool-like that returns a promise instead is served too.
      returned = (this.pool.connect as (callback: typeof onClient) => unknown)(onClient)
    } catch (error) {
      onClient(asError(error), undefined, ignore)
      return
    }
    if (isThenable(returned)) {
      returned.then(
        (client) => {
          const c = client as PoolClient
          onClient(undefined, c, (e) => {
            c.release(e)
          })
        },
        (error: unknown) => {
          onClient(asError(error), undefined, ignore)
        },
      )
    }
  }

  /** Stops the sweep (called by the sweep itself once nothing is pending). */
  stop(): void {
    clearInterval(this.#timer)
    this.#timer = undefined
  }

  #send(call: Call, config: TimedQueryConfig, client: PoolClient, release: Release): void {
    if (!this.#guarded.has(client)) {
      client.on('error', ignore)
      this.#guarded.add(client)
    }
    call.release = release
    call.deadline = Date.now() + call.queryTimeout
    const done = (error: Error | null | undefined, result?: QueryResult): void => {
      if (call.done) return
      const failed = error !== undefined && error !== null
      this.#finish(call, failed ? error : undefined)
      // A connection that failed is closed; one that answered an SQL error is fine to reuse.
      release(failed && isConnectionError(error) ? error : undefined)
      if (failed) call.sink.fail(error)
      else if (result !== undefined) call.sink.answer(result)
      else call.sink.fail(new Error('pg answered neither a result nor an error'))
    }
    try {
      if (config instanceof TextQuery) client.query(config.text, config.values ?? [], done)
      else client.query(config as pg.QueryConfig, done)
    } catch (error) {
      done(asError(error))
    }
  }

  #finish(call: Call, error: unknown): void {
    call.done = true
    const { prev, next } = call
    if (prev === undefined) this.#head = next
    else prev.next = next
    if (next !== undefined) next.prev = prev
    call.prev = undefined
    call.next = undefined
    this.#pending -= 1
    if (call.observer !== undefined) {
      const at = performance.now()
      call.observer.ended(at - call.started, at, error)
    }
  }

  /**
   * Sweeps every tenth of the shortest timeout in use (5 ms to 250 ms). The sweep stops itself once
   * nothing is pending, not at each call's end: one call at a time must not start a timer per call.
   */
  #arm(timeout: number): void {
    const every = Math.min(250, Math.max(5, Math.floor(timeout / 10)))
    if (this.#timer !== undefined && every >= this.#every) return
    clearInterval(this.#timer)
    this.#every = every
    this.#timer = setInterval(() => {
      this.#sweep()
    }, every)
    // Pending calls hold sockets that keep the process alive; the sweep itself must not.
    this.#timer.unref()
  }

  #sweep(): void {
    if (this.#pending === 0) {
      this.stop()
      return
    }
    const now = Date.now()
    for (let call = this.#head, next: Call | undefined; call !== undefined; call = next) {
      next = call.next
      if (call.deadline > now) continue
      const error = call.release !== undefined
        ? new DbTimeoutError(`no answer within the query timeout (${call.queryTimeout} ms); the connection was closed`)
        : new DbTimeoutError(`no connection within timeouts.connect (${this.#connectTimeout} ms)`)
      this.#finish(call, error)
      call.release?.(error)
      call.sink.fail(error)
    }
  }
}

/** Runs one small query of the router's own (checks, probes, lookups) with a hard deadline. */
export async function timedQuery<R extends QueryResultRow>(dispatcher: Dispatcher, text: string, values: unknown[], timeoutMs: number): Promise<R[]> {
  const result = await dispatcher.query<R>(new TextQuery(text, values, timeoutMs), timeoutMs)
  return result.rows
}

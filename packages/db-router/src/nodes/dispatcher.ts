import { DeadlineSweep } from '@scalekit/internal'
import type { Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg'
import { DbRouterClosedError, DbTimeoutError } from '../errors'
import { asError, isConnectionError } from '../internal/pg-errors'
import { TextQuery } from '../internal/query-args'
import type { TimedQueryConfig } from '../internal/query-args'

/** Told when a call ends, before its promise settles: how a node counts its calls without a promise of its own. */
export interface CallObserver {
  /** `error` undefined for an answer; `startedAt` the call's `performance.now()`. */
  ended(error: Error | undefined, startedAt: number): void
}

/**
 * Sends statements over one pool the way `pool.query` does (check out, query, release, through pg's
 * callback forms of `pool.connect` and `client.query`), with one deadline per call on ONE
 * {@link DeadlineSweep} instead of pg's timer per query and pg-pool's per checkout: `connectTimeout`
 * to obtain a connection, then re-armed with the query timeout for the answer. Past either the call
 * fails with `ERR_DB_TIMEOUT`, and a connection it held is closed (as pg's own `query_timeout`
 * does), so a stuck server cannot keep it. SQL errors leave the connection in the pool; connection
 * errors remove it.
 */
export class Dispatcher {
  readonly pool: Pool
  readonly #connectTimeout: number
  readonly #prepare: ((client: PoolClient) => Promise<void>) | undefined
  /** The deadline of every call in flight (`abort()` ends them all through it). */
  readonly #sweep = new DeadlineSweep()
  #aborted: Error | undefined

  /** `prepare` runs on each checked-out session before the statement (an app's replica pool: see `openPool`). */
  constructor(pool: Pool, connectTimeout: number, prepare?: (client: PoolClient) => Promise<void>) {
    this.pool = pool
    this.#connectTimeout = connectTimeout
    this.#prepare = prepare
  }

  /** Calls waiting for a connection or an answer. */
  get pending(): number {
    return this.#sweep.size
  }

  /**
   * Sends `config` on a connection of the pool and resolves with pg's result; rejects with pg's
   * error, `ERR_DB_TIMEOUT` or `ERR_DB_CLOSED`. `observer`, if given, is told how the call ended.
   */
  query<R extends QueryResultRow = QueryResultRow>(
    config: TimedQueryConfig,
    queryTimeout: number,
    observer?: CallObserver,
  ): Promise<QueryResult<R>> {
    if (this.#aborted !== undefined) {
      observer?.ended(this.#aborted, performance.now())
      return Promise.reject(this.#aborted)
    }
    const start = performance.now()
    // pg's callback forms of `pool.connect` and `client.query` (what `pool.query` itself uses), under
    // one promise: the call's own, settled once, by whichever comes first of the answer, an error,
    // its deadline or `abort()`.
    return new Promise<QueryResult<R>>((resolve, reject) => {
      let client: PoolClient | undefined
      let settled = false
      // What pool.query does too: a session that fails while we hold it emits 'error' on itself,
      // which would crash the process with nobody listening (the pool listens only while it is idle).
      const onError = (): void => undefined
      const end = (error: Error | undefined, result?: QueryResult<R>): void => {
        if (settled) return
        settled = true
        deadline.cancel()
        if (client !== undefined) {
          client.removeListener('error', onError)
          // A connection that failed, timed out or was given up on at close is closed; one that
          // answered an SQL error is fine to reuse.
          client.release(error !== undefined && isBroken(error) ? error : undefined)
        }
        try {
          // Before the caller goes on, so what balancing reads is current; a throwing listener
          // behind it (a logger) cannot leave the call unsettled.
          observer?.ended(error, start)
        } finally {
          if (error === undefined) resolve(result as QueryResult<R>)
          else reject(error)
        }
      }
      const answered = (error: Error | null | undefined, result: QueryResult<R>): void => {
        end(error ?? undefined, result)
      }
      const expire = (): void => {
        end(
          this.#aborted ??
            (client === undefined
              ? new DbTimeoutError(`no connection within timeouts.connect (${this.#connectTimeout} ms)`)
              : new DbTimeoutError(
                  `no answer within the query timeout (${queryTimeout} ms); the connection was closed`,
                )),
        )
      }
      // First bounded by the connect timeout, then (re-armed) by the query timeout.
      let deadline = this.#sweep.add(this.#connectTimeout, expire)
      this.pool.connect((error, checkedOut, release) => {
        if (settled) {
          // Gave up while waiting: the connection goes straight back.
          if (checkedOut !== undefined) release()
          return
        }
        if (checkedOut === undefined) {
          end(asError(error ?? new Error('the pool gave no client')))
          return
        }
        client = checkedOut
        client.on('error', onError)
        deadline.cancel()
        deadline = this.#sweep.add(queryTimeout, expire)
        if (this.#prepare === undefined) send(checkedOut, config, answered)
        else
          this.#prepare(checkedOut).then(
            () => {
              if (!settled) send(checkedOut, config, answered)
            },
            (failure: unknown) => {
              end(asError(failure))
            },
          )
      })
    })
  }

  /**
   * Checks out a session for the caller to use and release (`connect()`, `transaction()`, a write
   * that captures its position), bounded by `connectTimeout` on the sweep, as statements are: a pool
   * the router creates then needs no pg-pool checkout timer, which would also run for every
   * statement. A session that arrives after the caller gave up goes straight back.
   */
  checkout(): Promise<PoolClient> {
    if (this.#aborted !== undefined) return Promise.reject(this.#aborted)
    return new Promise<PoolClient>((resolve, reject) => {
      let settled = false
      const deadline = this.#sweep.add(this.#connectTimeout, () => {
        settled = true
        reject(
          this.#aborted ??
            new DbTimeoutError(`no connection within timeouts.connect (${this.#connectTimeout} ms)`),
        )
      })
      this.pool.connect((error, client, release) => {
        if (settled) {
          if (client !== undefined) release()
          return
        }
        settled = true
        deadline.cancel()
        if (client === undefined) reject(asError(error ?? new Error('the pool gave no client')))
        else resolve(client)
      })
    })
  }

  /** Ends every call in flight with `error`, and refuses new ones with it; their connections are closed. */
  abort(error: DbRouterClosedError): void {
    this.#aborted = error
    this.#sweep.expireAll()
  }
}

/** A connection that failed, timed out or was given up on at close: not to be reused. */
function isBroken(error: Error): boolean {
  return isConnectionError(error) || error instanceof DbRouterClosedError
}

/**
 * Text with values takes pg's fast path (a config object is copied by pg on every call). pg can
 * throw synchronously (a config it refuses); that goes to `answered` too, never up into pg-pool's
 * checkout callback, where it would be an uncaught exception.
 */
function send<R extends QueryResultRow>(
  client: PoolClient,
  config: TimedQueryConfig,
  answered: (error: Error | null | undefined, result: QueryResult<R>) => void,
): void {
  try {
    if (!(config instanceof TextQuery)) client.query<R>(config as QueryConfig<unknown[]>, answered)
    else if (config.values === undefined) client.query<R>(config.text, answered)
    else client.query<R>(config.text, config.values, answered)
  } catch (error) {
    answered(asError(error), undefined as unknown as QueryResult<R>)
  }
}

/** Runs one small query of the router's own (checks, probes, lookups) with a hard deadline. */
export async function timedQuery<R extends QueryResultRow>(
  dispatcher: Dispatcher,
  text: string,
  values: unknown[],
  timeoutMs: number,
): Promise<R[]> {
  const result = await dispatcher.query<R>(new TextQuery(text, values, timeoutMs), timeoutMs)
  return result.rows
}

import { DeadlineSweep } from '@scalekit/internal'
import type { Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg'
import { DbRouterClosedError, DbTimeoutError } from '../errors'
import { asError, isConnectionError } from '../internal/pg-errors'
import { TextQuery } from '../internal/query-args'
import type { TimedQueryConfig } from '../internal/query-args'

/**
 * Sends statements over one pool the way `pool.query` does (check out, query, release), with two
 * deadlines per call on ONE {@link DeadlineSweep} instead of pg's timer per query and pg-pool's per
 * checkout: `connectTimeout` to obtain a connection, then the query timeout for the answer. Past
 * either the call fails with `ERR_DB_TIMEOUT`, and a connection it held is closed (as pg's own
 * `query_timeout` does), so a stuck server cannot keep it. SQL errors leave the connection in the
 * pool; connection errors remove it.
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

  /** Sends `config` on a connection of the pool and resolves with pg's result; rejects with pg's error, `ERR_DB_TIMEOUT` or `ERR_DB_CLOSED`. */
  async query<R extends QueryResultRow = QueryResultRow>(
    config: TimedQueryConfig,
    queryTimeout: number,
  ): Promise<QueryResult<R>> {
    if (this.#aborted !== undefined) throw this.#aborted
    const client = await this.#bounded(this.pool.connect(), this.#connectTimeout, 'connect', (late) => {
      late.release()
    })
    // What pool.query does too: a session that fails while we hold it emits 'error' on itself,
    // which would crash the process with nobody listening (the pool listens only while it is idle).
    const onError = (): void => undefined
    client.on('error', onError)
    let broken: Error | undefined
    try {
      if (this.#prepare !== undefined) await this.#bounded(this.#prepare(client), queryTimeout, 'query')
      return await this.#bounded(send<R>(client, config), queryTimeout, 'query')
    } catch (error) {
      // A connection that failed, timed out or was given up on at close is closed; one that answered
      // an SQL error is fine to reuse.
      if (isConnectionError(error) || error instanceof DbRouterClosedError) broken = asError(error)
      throw error
    } finally {
      client.removeListener('error', onError)
      client.release(broken)
    }
  }

  /** Ends every call in flight with `error`, and refuses new ones with it; their connections are closed. */
  abort(error: DbRouterClosedError): void {
    this.#aborted = error
    this.#sweep.expireAll()
  }

  /**
   * Settles like `work`, or rejects with `ERR_DB_TIMEOUT` after `ms`, or with the error of
   * {@link abort}. A value that arrives after that goes to `late` (a connection to give back).
   */
  #bounded<T>(
    work: Promise<T>,
    ms: number,
    phase: 'connect' | 'query',
    late?: (value: T) => void,
  ): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let done = false
      const stop = (error: Error): void => {
        if (done) return
        done = true
        deadline.cancel()
        reject(error)
      }
      const deadline = this.#sweep.add(ms, () => {
        stop(
          this.#aborted ??
            (phase === 'connect'
              ? new DbTimeoutError(`no connection within timeouts.connect (${ms} ms)`)
              : new DbTimeoutError(
                  `no answer within the query timeout (${ms} ms); the connection was closed`,
                )),
        )
      })
      work.then(
        (value) => {
          if (done) {
            late?.(value)
            return
          }
          done = true
          deadline.cancel()
          resolve(value)
        },
        (error: unknown) => {
          stop(asError(error))
        },
      )
    })
  }
}

/** Text with values takes pg's fast path (a config object is copied by pg on every call). */
function send<R extends QueryResultRow>(
  client: PoolClient,
  config: TimedQueryConfig,
): Promise<QueryResult<R>> {
  if (config instanceof TextQuery) return client.query<R>(config.text, config.values)
  return client.query<R>(config as QueryConfig<unknown[]>)
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

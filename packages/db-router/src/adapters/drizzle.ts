import type { Pool, PoolClient, QueryConfig, QueryResult, QueryResultRow } from 'pg'
import type { DbRouter } from '../types'

/**
 * What drizzle-orm's node-postgres driver is given as its client. Its `transaction()` checks a
 * session out with `connect()` (and `release()`s it) only when the client looks like a pg `Pool`:
 * `instanceof Pool`, or a constructor whose name contains "Pool" (drizzle-orm 0.45,
 * `node-postgres/session.js`). Anything else gets `BEGIN`, the statements and `COMMIT` through
 * `query()` — which the router would send to different nodes. So this class is named to pass that
 * check, and forwards both calls to the router; the router itself stays what it is.
 */
class DrizzleRouterPool {
  readonly #db: DbRouter

  constructor(db: DbRouter) {
    this.#db = db
  }

  query<R extends QueryResultRow = QueryResultRow>(
    textOrConfig: string | QueryConfig<unknown[]>,
    values?: readonly unknown[],
  ): Promise<QueryResult<R>> {
    return this.#db.query<R>(textOrConfig, values)
  }

  connect(): Promise<PoolClient> {
    return this.#db.connect()
  }
}

/**
 * The router as drizzle-orm's node-postgres client: reads go to replicas, writes to the primary, and
 * `db.transaction()` runs on one primary session.
 *
 * ```ts
 * import { drizzle } from 'drizzle-orm/node-postgres'
 * import { drizzleClient } from '@scalekit/db-router/drizzle'
 *
 * const orm = drizzle({ client: drizzleClient(db) })
 * ```
 *
 * Typed as pg's `Pool` because that is what drizzle's `client` option takes; it has `query` and
 * `connect` only (drizzle uses nothing else). Close the router, not this.
 */
export function drizzleClient(db: DbRouter): Pool {
  return new DrizzleRouterPool(db) as unknown as Pool
}

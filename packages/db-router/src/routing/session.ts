import type { PoolClient, QueryResult, QueryResultRow } from 'pg'
import type { DbQueryContext } from '../channels'
import { commitAndCapture } from '../consistency/capture'
import { DbRouterArgumentError } from '../errors'
import { normalizeQueryArgs, timed } from '../internal/query-args'
import type { TransactionClient, TransactionOptions } from '../types'
import type { Cluster } from './cluster'
import { noteWriteError, primaryError, writablePrimary } from './primary'
import { traced } from './trace'

const ISOLATION_LEVELS: readonly string[] = ['read committed', 'repeatable read', 'serializable']

/** `transaction()`: BEGIN on a primary session, COMMIT (capturing the LSN in a scope) or ROLLBACK and rethrow. */
export async function runTransaction<T>(
  cluster: Cluster,
  fn: (tx: TransactionClient) => Promise<T>,
  options: TransactionOptions,
): Promise<T> {
  const begin = beginStatement(options)
  const node = writablePrimary(cluster)
  const scope = cluster.scopes.getStore()
  const timeout = cluster.settings.timeouts.query
  const context: DbQueryContext = {
    operation: 'transaction',
    role: 'primary',
    node: node.name,
    reason: 'transaction',
    classification: 'transaction',
    attempt: 1,
  }
  return traced(context, async () => {
    const client = await node
      .run(() => node.dispatcher.checkout())
      .catch((error: unknown) => {
        throw primaryError(cluster, error)
      })
    let broken: Error | undefined
    try {
      await client.query(timed(begin, timeout))
      const tx: TransactionClient = {
        client,
        query: <R extends QueryResultRow>(first: unknown, second?: unknown): Promise<QueryResult<R>> =>
          client.query<R>(normalizeQueryArgs(first, second, undefined, timeout)),
      }
      const result = await fn(tx)
      if (scope === undefined) await client.query(timed('COMMIT', timeout))
      else scope.advance(await commitAndCapture(client, timeout))
      return result
    } catch (error) {
      await client.query(timed('ROLLBACK', timeout)).catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError))
      })
      await noteWriteError(cluster, error)
      throw primaryError(cluster, error)
    } finally {
      client.release(broken)
    }
  })
}

/** `connect()`: a primary session; in a consistency scope, its release captures the primary's position for the scope. */
export async function connectSession(cluster: Cluster): Promise<PoolClient> {
  const node = writablePrimary(cluster)
  const client = await node
    .run(() => node.dispatcher.checkout())
    .catch((error: unknown) => {
      throw primaryError(cluster, error)
    })
  const scope = cluster.scopes.getStore()
  if (scope !== undefined) cluster.sessions.track(client, scope)
  return client
}

function beginStatement(options: TransactionOptions): string {
  const parts = ['BEGIN']
  if (options.isolation !== undefined) {
    if (!ISOLATION_LEVELS.includes(options.isolation))
      throw new DbRouterArgumentError(`unknown isolation level ${JSON.stringify(options.isolation)}`)
    parts.push(`ISOLATION LEVEL ${options.isolation.toUpperCase()}`)
  }
  if (options.readOnly === true) parts.push('READ ONLY')
  return parts.join(' ')
}

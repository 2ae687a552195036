import type { QueryResult, QueryResultRow } from 'pg'
import type { RouteReason } from '../channels'
import type { Decision } from '../classify/classifier'
import { writeAndCapture } from '../consistency/capture'
import { timedQuery } from '../nodes/dispatcher'
import { DbPrimaryReadOnlyError, DbPrimaryUnavailableError } from '../errors'
import { asError, errorCode, isConnectionError, READ_ONLY_SQL_TRANSACTION } from '../internal/pg-errors'
import type { TimedQueryConfig } from '../internal/query-args'
import type { Node } from '../nodes/node'
import type { Cluster } from './cluster'
import { queryContext, sendTo, traced } from './trace'

/** The primary, unless it is known to be read-only (writes are then never sent) or its breaker is open. */
export function writablePrimary(cluster: Cluster): Node {
  cluster.start()
  const node = cluster.primary
  if (node.state === 'read-only')
    throw new DbPrimaryReadOnlyError('the primary is in recovery (read-only); the write was not sent')
  if (node.breakerOpen)
    throw new DbPrimaryUnavailableError('the primary is unavailable (circuit breaker open)')
  return node
}

/** A statement pinned to the primary: a write (with LSN capture in a scope) unless it is a read. */
export async function runOnPrimary<R extends QueryResultRow>(
  cluster: Cluster,
  config: TimedQueryConfig,
  decision: Decision,
  reason: RouteReason,
  attempt = 1,
): Promise<QueryResult<R>> {
  cluster.calls.enter()
  try {
    if (decision.target !== 'replica') return await runWrite<R>(cluster, config, decision, reason, attempt)
    const node = cluster.primary
    try {
      return await sendTo<R>(node, config, reason, decision, attempt)
    } catch (error) {
      throw primaryError(cluster, error)
    }
  } finally {
    cluster.calls.leave()
  }
}

/** A write: the primary only, never retried; in a consistency scope its commit LSN advances the scope. */
export async function runWrite<R extends QueryResultRow>(
  cluster: Cluster,
  config: TimedQueryConfig,
  decision: Decision,
  reason: RouteReason,
  attempt = 1,
): Promise<QueryResult<R>> {
  cluster.calls.enter()
  try {
    const node = writablePrimary(cluster)
    const scope = cluster.scopes.getStore()
    try {
      if (scope === undefined) return await sendTo<R>(node, config, reason, decision, attempt)
      return await traced(queryContext(node, reason, decision, attempt), () =>
        node.run(async () => {
          const client = await node.dispatcher.checkout()
          let broken: Error | undefined
          try {
            const { result, lsn } = await writeAndCapture(client, config, decision.wrappable)
            scope.advance(lsn)
            return result as QueryResult<R>
          } catch (error) {
            if (isConnectionError(error)) broken = asError(error)
            throw error
          } finally {
            client.release(broken)
          }
        }),
      )
    } catch (error) {
      await noteWriteError(cluster, error)
      throw primaryError(cluster, error)
    }
  } finally {
    cluster.calls.leave()
  }
}

/**
 * A 25006 from the primary means it is in recovery — or only that the session or transaction was
 * read-only (`BEGIN READ ONLY`, `SET default_transaction_read_only`). Ask it before marking it.
 */
export async function noteWriteError(cluster: Cluster, error: unknown): Promise<void> {
  if (errorCode(error) !== READ_ONLY_SQL_TRANSACTION) return
  const node = cluster.primary
  try {
    const [row] = await timedQuery<{ r: boolean }>(
      node.dispatcher,
      'SELECT pg_is_in_recovery() AS r',
      [],
      cluster.settings.health.timeout,
    )
    if (row?.r === true) node.setState('read-only', 'in-recovery')
  } catch {
    // Unknown: the next health check decides.
  }
}

/** The error to throw for a primary failure: coded for read-only and unreachable, pg's own for SQL errors. */
export function primaryError(cluster: Cluster, error: unknown): unknown {
  if (errorCode(error) === READ_ONLY_SQL_TRANSACTION && cluster.primary.state === 'read-only') {
    return new DbPrimaryReadOnlyError('the primary is in recovery (read-only); the write was refused there', {
      cause: error,
    })
  }
  if (isConnectionError(error) && !(error instanceof DbPrimaryUnavailableError)) {
    return new DbPrimaryUnavailableError('the primary could not be reached', { cause: error })
  }
  return error
}

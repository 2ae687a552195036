import type { DbFallbackEvent, DbQueryContext, RouteReason } from '../channels'
import { channels } from '../channels'
import type { QueryResult, QueryResultRow } from 'pg'
import type { Decision } from '../classify/classifier'
import { errorCode } from '../internal/pg-errors'
import type { TimedQueryConfig } from '../internal/query-args'
import type { Node } from '../nodes/node'
import type { Cluster } from './cluster'

/** The `scalekit:db-router:query` context of one attempt. */
export function queryContext(
  node: Node,
  reason: RouteReason,
  decision: Decision,
  attempt: number,
  waitedMs?: number,
): DbQueryContext {
  const context: DbQueryContext = {
    operation: 'query',
    role: node.role,
    node: node.name,
    reason,
    classification: decision.reason,
    attempt,
  }
  if (waitedMs !== undefined) context.consistencyWaitMs = waitedMs
  return context
}

/** One statement on `node`, traced; nothing is allocated for the trace when nobody listens. */
export function sendTo<R extends QueryResultRow>(
  node: Node,
  config: TimedQueryConfig,
  reason: RouteReason,
  decision: Decision,
  attempt: number,
  waitedMs?: number,
): Promise<QueryResult<R>> {
  if (!channels.query.hasSubscribers) return node.query<R>(config)
  return traced(queryContext(node, reason, decision, attempt, waitedMs), () => node.query<R>(config))
}

/** Runs `fn` under the `scalekit:db-router:query` tracing channel (free when nobody listens), filling duration and error code. */
export async function traced<T>(context: DbQueryContext, fn: () => Promise<T>): Promise<T> {
  if (!channels.query.hasSubscribers) return fn()
  const start = performance.now()
  const run = async (): Promise<T> => {
    try {
      return await fn()
    } catch (error) {
      context.errorCode = errorCode(error) ?? 'UNKNOWN'
      throw error
    } finally {
      context.durationMs = performance.now() - start
    }
  }
  return channels.query.tracePromise(run, context)
}

/** Publishes `scalekit:db-router:fallback`, and warns once per episode. */
export function publishFallback(
  cluster: Cluster,
  reason: DbFallbackEvent['reason'],
  outcome: 'primary' | 'error',
): void {
  if (channels.fallback.hasSubscribers) channels.fallback.publish({ reason, outcome })
  cluster.trouble.fallback(reason, outcome)
}

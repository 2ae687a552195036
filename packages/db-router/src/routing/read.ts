import { sleep } from '@scalekit/internal'
import type { QueryResult, QueryResultRow } from 'pg'
import type { RouteReason } from '../channels'
import type { Decision } from '../classify/classifier'
import { primaryFallback } from '../consistency/replay'
import { parseLsn } from '../internal/lsn'
import {
  DEADLOCK_DETECTED,
  errorCode,
  isConnectionError,
  READ_ONLY_SQL_TRANSACTION,
  SERIALIZATION_FAILURE,
} from '../internal/pg-errors'
import type { TimedQueryConfig } from '../internal/query-args'
import { timedQuery } from '../nodes/dispatcher'
import type { Node } from '../nodes/node'
import type { Cluster } from './cluster'
import { primaryError, runWrite } from './primary'
import { publishFallback, sendTo } from './trace'

const PROBE_SQL = 'SELECT pg_last_wal_replay_lsn()::text AS lsn'
const PROBE_MIN_TIMEOUT = 100

/** Where an attempt goes, why, and how long it waited for a replica to replay the scope's writes. */
interface Choice {
  node: Node
  reason: RouteReason
  waitedMs?: number
}

/**
 * A read: a replica picked by the policy among those that replayed the scope's position, else the
 * primary per the fallback rules. A connection error or recovery conflict is retried on another
 * node (up to `maxReadAttempts`); a 25006 (the statement writes after all) is retried once on the
 * primary and remembered.
 */
export async function runRead<R extends QueryResultRow>(
  cluster: Cluster,
  config: TimedQueryConfig,
  decision: Decision,
  reason: RouteReason,
): Promise<QueryResult<R>> {
  cluster.calls.enter()
  try {
    cluster.start()
    const scope = cluster.scopes.getStore()
    // A write of this scope still capturing its position: read once it has one.
    if (scope?.busy === true) await scope.settled()
    let need = scope?.lsn ?? 0n
    const tried: Node[] = []
    let choice = choiceNow(cluster, need, tried, reason)
    if (choice === undefined && scope !== undefined) {
      // A position no replica has: a token's is clamped if the primary never reached it.
      need = await cluster.replay.settle(scope)
      choice = choiceNow(cluster, need, tried, reason)
    }
    choice ??= await waitForReplay(cluster, need, tried, reason)
    for (let attempt = 1; ; attempt++) {
      const { node } = choice
      if (node === cluster.primary) {
        // What `runOnPrimary` does, in this function's own frame: a read on the primary (the only
        // node of a router without replicas, such as a shard's) adds no `async` layer to the call.
        if (decision.target !== 'replica')
          return await runWrite<R>(cluster, config, decision, choice.reason, attempt)
        try {
          return await sendTo<R>(node, config, choice.reason, decision, attempt)
        } catch (error) {
          throw primaryError(cluster, error)
        }
      }
      try {
        return await sendTo<R>(node, config, choice.reason, decision, attempt, choice.waitedMs)
      } catch (error) {
        const code = errorCode(error)
        if (code === READ_ONLY_SQL_TRANSACTION) {
          cluster.classifier.learnWrite(config.text)
          publishFallback(cluster, 'read-only-retry', 'primary')
          return await runWrite<R>(
            cluster,
            config,
            { ...decision, target: 'primary' },
            'read-only-retry',
            attempt + 1,
          )
        }
        const lost = isConnectionError(error)
        if (
          !(lost || code === SERIALIZATION_FAILURE || code === DEADLOCK_DETECTED) ||
          attempt >= cluster.settings.maxReadAttempts
        )
          throw error
        // Out at once; the health checks readmit it after `rise` good checks.
        if (lost && code !== 'EOPENBREAKER') node.setState('down', 'connection-error')
        tried.push(node)
        choice =
          choiceNow(cluster, need, tried, 'retry') ?? (await waitForReplay(cluster, need, tried, 'retry'))
      }
    }
  } finally {
    cluster.calls.leave()
  }
}

/** Usable replicas not tried yet by this read. */
function usable(cluster: Cluster, tried: readonly Node[]): readonly Node[] {
  return cluster.replicas.filter((n) => n.usable && !tried.includes(n))
}

/**
 * The node of the next attempt when no waiting is needed (the usual case): a usable replica that
 * replayed `need`, else the primary as a fallback; undefined when the scope must wait for replay.
 */
function choiceNow(
  cluster: Cluster,
  need: bigint,
  tried: readonly Node[],
  reason: RouteReason,
): Choice | undefined {
  if (cluster.replicas.length === 0) return { node: cluster.primary, reason }
  const candidates = usable(cluster, tried)
  // The primary, with replicas configured, is a fallback.
  if (candidates.length === 0) return { node: primaryFallback(cluster, 'no-replica'), reason: 'no-replica' }
  const ready = need === 0n ? candidates : candidates.filter((n) => n.replayLsn >= need)
  return ready.length > 0 ? { node: cluster.balance(ready), reason } : undefined
}

/** Probes the candidates' replay positions until one has replayed `need`, up to `maxWait`; then the primary. */
async function waitForReplay(
  cluster: Cluster,
  need: bigint,
  tried: readonly Node[],
  reason: RouteReason,
): Promise<Choice> {
  const { maxWait, pollInterval } = cluster.settings.consistency
  const start = performance.now()
  let candidates = usable(cluster, tried)
  // Steady lag longer than the wait: read the primary now rather than after maxWait.
  if (!cluster.replay.worthWaiting(candidates, need))
    return { node: primaryFallback(cluster, 'lag'), reason: 'lag' }
  for (;;) {
    await Promise.all(candidates.map((n) => probe(cluster, n)))
    candidates = usable(cluster, tried)
    const ready = candidates.filter((n) => n.replayLsn >= need)
    const waitedMs = performance.now() - start
    if (ready.length > 0) return { node: cluster.balance(ready), reason, waitedMs }
    if (candidates.length === 0 || waitedMs >= maxWait) break
    await sleep(Math.min(pollInterval, maxWait - waitedMs))
  }
  cluster.replay.waitedInVain(candidates, need)
  return {
    node: primaryFallback(cluster, 'consistency'),
    reason: 'consistency',
    waitedMs: performance.now() - start,
  }
}

/**
 * Reads a replica's replay position (one probe per node at a time); a failure leaves the known
 * position as it was. Bounded by `maxWait` (at least 100 ms, at most `health.timeout`), so a
 * replica that stopped answering does not hold a scoped read much past its wait.
 */
async function probe(cluster: Cluster, node: Node): Promise<void> {
  let running = cluster.probes.get(node)
  if (running === undefined) {
    const { consistency, health } = cluster.settings
    const timeout = Math.min(health.timeout, Math.max(consistency.maxWait, PROBE_MIN_TIMEOUT))
    running = timedQuery<{ lsn: string | null }>(node.dispatcher, PROBE_SQL, [], timeout)
      .then(([row]) => {
        if (row?.lsn != null) node.sawReplay(parseLsn(row.lsn))
      })
      .catch(() => undefined)
      .finally(() => cluster.probes.delete(node))
    cluster.probes.set(node, running)
  }
  await running
}

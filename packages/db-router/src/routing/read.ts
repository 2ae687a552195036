import type { QueryResult, QueryResultRow } from 'pg'
import type { RouteReason } from '../channels'
import type { Decision } from '../classify/classifier'
import { timedQuery } from '../drivers/pg'
import { DbNoReplicaError } from '../errors'
import { parseLsn } from '../internal/lsn'
import { DEADLOCK_DETECTED, errorCode, isConnectionError, READ_ONLY_SQL_TRANSACTION, SERIALIZATION_FAILURE } from '../internal/pg-errors'
import type { TimedQueryConfig } from '../internal/query-args'
import type { Node } from '../nodes/node'
import type { Cluster } from './cluster'
import { runOnPrimary, runWrite } from './primary'
import { publishFallback, sendTo } from './trace'

const PROBE_SQL = 'SELECT pg_last_wal_replay_lsn()::text AS lsn'
const PROBE_MIN_TIMEOUT = 100

interface Choice {
  node: Node
  reason: RouteReason
  waitedMs?: number
}

/**
 * A read: a replica picked by the policy among those that replayed the scope's position, else the
 * primary per the fallback rules. A connection error or recovery conflict is retried on another
 * node; a 25006 (the statement writes after all) is retried once on the primary and remembered.
 * Not `async`: the usual read (a replica ready now) is one promise of the node's, plus one that
 * catches its error for a retry.
 */
export function runRead<R extends QueryResultRow>(cluster: Cluster, config: TimedQueryConfig, decision: Decision, reason: RouteReason): Promise<QueryResult<R>> {
  cluster.enter()
  const scope = cluster.scopes.getStore()
  // A write of this scope still capturing its position: read once it has one.
  if (scope?.busy === true) return scope.settled().then(() => readAfter<R>(cluster, config, decision, reason, scope.lsn))
  return readAfter<R>(cluster, config, decision, reason, scope?.lsn ?? 0n)
}

/** A read on a node that has replayed `need` (a replica now, or after waiting, or the primary). */
function readAfter<R extends QueryResultRow>(cluster: Cluster, config: TimedQueryConfig, decision: Decision, reason: RouteReason, need: bigint): Promise<QueryResult<R>> {
  const choice = chooseNow(cluster, need, undefined, reason)
  if (choice !== undefined) return attempt<R>(cluster, config, decision, need, choice, undefined, 1)
  return waitForReplay(cluster, need, undefined, reason).then((waited) => attempt<R>(cluster, config, decision, need, waited, undefined, 1))
}

/** Attempt number `n` of a read on the chosen node; on a retryable error, the next attempt. */
function attempt<R extends QueryResultRow>(
  cluster: Cluster,
  config: TimedQueryConfig,
  decision: Decision,
  need: bigint,
  choice: Choice,
  tried: readonly Node[] | undefined,
  n: number,
): Promise<QueryResult<R>> {
  const { node } = choice
  if (node === cluster.primary) return runOnPrimary<R>(cluster, config, decision, choice.reason, n)
  return sendTo<R>(node, config, choice.reason, decision, n, choice.waitedMs).then(undefined, async (error: unknown) => {
    const code = errorCode(error)
    if (code === READ_ONLY_SQL_TRANSACTION) {
      cluster.classifier.learnWrite(config.text)
      publishFallback('read-only-retry', 'primary')
      return runWrite<R>(cluster, config, { ...decision, target: 'primary' }, 'read-only-retry', n + 1)
    }
    const lost = isConnectionError(error)
    if (!(lost || code === SERIALIZATION_FAILURE || code === DEADLOCK_DETECTED) || n >= cluster.settings.maxReadAttempts) throw error
    // Out at once; the health checks readmit it after `rise` good checks.
    if (lost && code !== 'EOPENBREAKER') node.setState('down', 'connection-error')
    const next = [...(tried ?? []), node]
    const retry = chooseNow(cluster, need, next, 'retry') ?? (await waitForReplay(cluster, need, next, 'retry'))
    return attempt<R>(cluster, config, decision, need, retry, next, n + 1)
  })
}

/** Usable replicas not tried yet by this read. */
function usable(cluster: Cluster, tried: readonly Node[] | undefined): Node[] {
  return cluster.replicas.filter((n) => n.usable && (tried === undefined || !tried.includes(n)))
}

/** The node for a read when no waiting is needed (the usual case); undefined when the scope must wait for replay. */
function chooseNow(cluster: Cluster, need: bigint, tried: readonly Node[] | undefined, reason: RouteReason): Choice | undefined {
  if (cluster.replicas.length === 0) return { node: cluster.primary, reason }
  const candidates = usable(cluster, tried)
  if (candidates.length === 0) return fallback(cluster)
  if (need === 0n) return { node: cluster.balance(candidates), reason }
  const ready = candidates.filter((n) => n.replayLsn >= need)
  return ready.length > 0 ? { node: cluster.balance(ready), reason } : undefined
}

/** Probes the candidates' replay positions until one has replayed `need`, up to `maxWait`; then the primary. */
async function waitForReplay(cluster: Cluster, need: bigint, tried: readonly Node[] | undefined, reason: RouteReason): Promise<Choice> {
  const { maxWait, pollInterval } = cluster.settings.consistency
  const start = performance.now()
  let candidates = usable(cluster, tried)
  for (;;) {
    await Promise.all(candidates.map((n) => probe(cluster, n)))
    candidates = usable(cluster, tried)
    const ready = candidates.filter((n) => n.replayLsn >= need)
    const waitedMs = performance.now() - start
    if (ready.length > 0) return { node: cluster.balance(ready), reason, waitedMs }
    if (candidates.length === 0 || waitedMs >= maxWait) break
    await sleep(Math.min(pollInterval, maxWait - waitedMs))
  }
  publishFallback('consistency', 'primary')
  return { node: cluster.primary, reason: 'consistency', waitedMs: performance.now() - start }
}

function fallback(cluster: Cluster): Choice {
  const { toPrimary } = cluster.settings.fallback
  if (!toPrimary || !cluster.budget.take()) {
    publishFallback('no-replica', 'error')
    throw new DbNoReplicaError(toPrimary ? 'no usable replica and the fallback budget is spent' : 'no usable replica (fallback to the primary is off)')
  }
  publishFallback('no-replica', 'primary')
  return { node: cluster.primary, reason: 'no-replica' }
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

async function sleep(ms: number): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)))
}

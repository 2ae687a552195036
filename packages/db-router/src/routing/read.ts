import type { QueryResult, QueryResultRow } from 'pg'
import type { RouteReason } from '../channels'
import { channels } from '../channels'
import type { Decision } from '../classify/classifier'
import { timedQuery } from '../drivers/pg'
import type { CallSink } from '../drivers/pg'
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

const nothing = (): void => undefined

/**
 * A read: a replica picked by the policy among those that replayed the scope's position, else the
 * primary per the fallback rules. A connection error or recovery conflict is retried on another
 * node; a 25006 (the statement writes after all) is retried once on the primary and remembered.
 * `settled` is called once when the returned promise settles (the router's count of calls in
 * flight), so the caller needs no promise of its own around it.
 */
export function runRead<R extends QueryResultRow>(
  cluster: Cluster,
  config: TimedQueryConfig,
  decision: Decision,
  reason: RouteReason,
  settled: () => void = nothing,
): Promise<QueryResult<R>> {
  cluster.enter()
  const scope = cluster.scopes.getStore()
  const read = new Read(cluster, config, decision, scope?.lsn ?? 0n, settled)
  const promise = new Promise<QueryResult<R>>((resolve, reject) => {
    read.resolve = resolve as (result: QueryResult) => void
    read.reject = reject
  })
  // A write of this scope still capturing its position: read once it has one.
  if (scope?.busy === true) {
    scope.settled().then(
      () => {
        read.need = scope.lsn
        read.start(reason)
      },
      (error: unknown) => {
        read.end(error)
      },
    )
  } else {
    read.start(reason)
  }
  return promise
}

/**
 * One routed read from its first attempt to its outcome: the node of each attempt hands its answer
 * or error straight to this object (a {@link CallSink}), which answers the read's one promise or
 * sends the next attempt. The usual read (a replica ready now, nobody tracing) costs this object,
 * its promise and the dispatcher's call: no promise chain per attempt.
 */
class Read implements CallSink {
  resolve: (result: QueryResult) => void = nothing
  reject: (error: unknown) => void = nothing
  /** The attempt in progress (1-based) and its node (set by each attempt). */
  attempt = 0
  node: Node
  tried: Node[] | undefined = undefined
  need: bigint
  readonly cluster: Cluster
  readonly config: TimedQueryConfig
  readonly decision: Decision
  readonly settled: () => void

  constructor(cluster: Cluster, config: TimedQueryConfig, decision: Decision, need: bigint, settled: () => void) {
    this.cluster = cluster
    this.config = config
    this.decision = decision
    this.need = need
    this.settled = settled
    this.node = cluster.primary
  }

  /** The first attempt: a node now, or once a replica has replayed the scope's position. */
  start(reason: RouteReason): void {
    try {
      const node = chooseNow(this.cluster, this.need, undefined)
      if (node !== undefined) this.#send(node, reasonFor(this.cluster, node, reason), undefined)
      else this.#sendWhenReplayed(reason)
    } catch (error) {
      this.end(error)
    }
  }

  answer(result: QueryResult): void {
    this.settled()
    this.resolve(result)
  }

  fail(error: unknown): void {
    try {
      this.#retryOrEnd(error)
    } catch (thrown) {
      this.end(thrown)
    }
  }

  /** Ends the read with `error`. */
  end(error: unknown): void {
    this.settled()
    this.reject(error)
  }

  #send(node: Node, reason: RouteReason, waitedMs: number | undefined): void {
    this.attempt += 1
    this.node = node
    const { cluster, config, decision } = this
    if (node === cluster.primary) {
      this.#follow(runOnPrimary(cluster, config, decision, reason, this.attempt), false)
      return
    }
    if (channels.query.hasSubscribers) {
      this.#follow(sendTo(node, config, reason, decision, this.attempt, waitedMs), true)
      return
    }
    node.send(config, this)
  }

  /** Settles with `promise` (the primary's path, or a traced attempt); only a replica's failure may be retried. */
  #follow(promise: Promise<QueryResult>, retryable: boolean): void {
    promise.then(
      (result) => {
        this.answer(result)
      },
      (error: unknown) => {
        if (retryable) this.fail(error)
        else this.end(error)
      },
    )
  }

  #sendWhenReplayed(reason: RouteReason): void {
    waitForReplay(this.cluster, this.need, this.tried, reason).then(
      (choice) => {
        this.#send(choice.node, choice.reason, choice.waitedMs)
      },
      (error: unknown) => {
        this.end(error)
      },
    )
  }

  #retryOrEnd(error: unknown): void {
    const { cluster, config, decision, node } = this
    const code = errorCode(error)
    if (code === READ_ONLY_SQL_TRANSACTION) {
      cluster.classifier.learnWrite(config.text)
      publishFallback('read-only-retry', 'primary')
      this.#follow(runWrite(cluster, config, { ...decision, target: 'primary' }, 'read-only-retry', this.attempt + 1), false)
      return
    }
    const lost = isConnectionError(error)
    if (!(lost || code === SERIALIZATION_FAILURE || code === DEADLOCK_DETECTED) || this.attempt >= cluster.settings.maxReadAttempts) {
      this.end(error)
      return
    }
    // Out at once; the health checks readmit it after `rise` good checks.
    if (lost && code !== 'EOPENBREAKER') node.setState('down', 'connection-error')
    this.tried = [...(this.tried ?? []), node]
    const retry = chooseNow(cluster, this.need, this.tried)
    if (retry !== undefined) this.#send(retry, reasonFor(cluster, retry, 'retry'), undefined)
    else this.#sendWhenReplayed('retry')
  }
}

const isUsable = (n: Node): boolean => n.usable

/** Usable replicas not tried yet by this read (the replicas themselves, not a copy, when all are). */
function usable(cluster: Cluster, tried: readonly Node[] | undefined): readonly Node[] {
  const { replicas } = cluster
  if (tried === undefined && replicas.every(isUsable)) return replicas
  return replicas.filter((n) => n.usable && (tried === undefined || !tried.includes(n)))
}

/** The node for a read when no waiting is needed (the usual case); undefined when the scope must wait for replay. */
function chooseNow(cluster: Cluster, need: bigint, tried: readonly Node[] | undefined): Node | undefined {
  if (cluster.replicas.length === 0) return cluster.primary
  const candidates = usable(cluster, tried)
  if (candidates.length === 0) return fallback(cluster)
  if (need === 0n) return cluster.balance(candidates)
  const ready = candidates.filter((n) => n.replayLsn >= need)
  return ready.length > 0 ? cluster.balance(ready) : undefined
}

/** Why a read chosen by {@link chooseNow} went where it went: the primary, with replicas configured, is a fallback. */
function reasonFor(cluster: Cluster, node: Node, reason: RouteReason): RouteReason {
  return node === cluster.primary && cluster.replicas.length > 0 ? 'no-replica' : reason
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

function fallback(cluster: Cluster): Node {
  const { toPrimary } = cluster.settings.fallback
  if (!toPrimary || !cluster.budget.take()) {
    publishFallback('no-replica', 'error')
    throw new DbNoReplicaError(toPrimary ? 'no usable replica and the fallback budget is spent' : 'no usable replica (fallback to the primary is off)')
  }
  publishFallback('no-replica', 'primary')
  return cluster.primary
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

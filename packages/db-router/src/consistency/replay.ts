import { DbNoReplicaError } from '../errors'
import { LsnHistory } from '../internal/lsn-history'
import { TextQuery } from '../internal/query-args'
import type { Node } from '../nodes/node'
import type { ResolvedOptions } from '../options'
import type { Cluster } from '../routing/cluster'
import { publishFallback } from '../routing/trace'
import type { Trouble } from '../trouble'
import { LSN_SQL, lsnOf } from './capture'
import type { Scope } from './scope'

/** Samples kept of the primary's position, and the finest spacing between two (see {@link LsnHistory}). */
const HISTORY_SAMPLES = 8192

/**
 * What the router knows of the primary's WAL position over time, and what it makes of it for scoped
 * reads: a token that claims a position the primary never reached is clamped to the primary's own
 * (a forged `1.ffffffffffffffff` would otherwise make every read wait, then go to the primary); a
 * read goes to the primary at once when no replica is expected to replay the scope's position within
 * `consistency.maxWait` by its measured replay lag (with a steady lag longer than the wait, waiting
 * is only a delay before the same fallback).
 */
export class ReplayTracker {
  /** The primary's positions over time (health checks, and positions captured after writes). */
  readonly history: LsnHistory
  readonly #primary: Node
  readonly #settings: ResolvedOptions
  readonly #trouble: Trouble
  /** The position read running now, and the one queued to start after it. */
  #running: Promise<bigint> | undefined
  #next: Promise<bigint> | undefined

  constructor(primary: Node, settings: ResolvedOptions, trouble: Trouble) {
    this.#primary = primary
    this.#settings = settings
    this.#trouble = trouble
    const window = Math.max(settings.health.maxLagSeconds * 4000, settings.health.interval * 8)
    this.history = new LsnHistory(HISTORY_SAMPLES, Math.min(window / HISTORY_SAMPLES, 1000))
  }

  /**
   * The position a scoped read must see: the scope's, unless a token claimed more than the primary
   * has written — then the primary's current position, to which the scope is clamped (and a warning
   * logged). A position this router captured, or one the primary is known to have passed, costs
   * nothing; else one read of the primary's position, shared by the reads that arrive meanwhile.
   */
  async settle(scope: Scope): Promise<bigint> {
    if (scope.captured > 0n) this.history.push(scope.capturedAt, scope.captured)
    const lsn = scope.lsn
    if (lsn <= this.history.latest) return lsn
    // Nothing to ask while the primary is known unreachable: the read waits and falls back as before.
    if (this.#primary.state === 'down' || this.#primary.breakerOpen) return lsn
    let primary: bigint
    try {
      primary = await this.#fresh()
    } catch {
      // Unknown: the read waits and falls back within the budget, as before.
      return lsn
    }
    this.history.push(Date.now(), primary)
    if (lsn <= primary) return lsn
    scope.clamp(primary)
    this.#trouble.tokenAhead()
    return scope.lsn
  }

  /**
   * True when some of `candidates` may replay `need` within `maxWait`: its measured replay lag
   * (health checks, and reads that waited in vain) minus the time since the primary reached `need`.
   * A replica whose lag is unknown or zero is worth the wait.
   */
  worthWaiting(candidates: readonly Node[], need: bigint): boolean {
    const now = Date.now()
    const reached = this.history.reachedAt(need) ?? now
    const { maxWait } = this.#settings.consistency
    return candidates.some((n) => reached + n.lagSeconds * 1000 - now <= maxWait)
  }

  /** `candidates` did not replay `need` within a wait: each is at least that far behind, until its next check says otherwise. */
  waitedInVain(candidates: readonly Node[], need: bigint): void {
    const now = Date.now()
    const reached = this.history.reachedAt(need)
    if (reached === undefined) return
    const behind = (now - reached) / 1000
    for (const node of candidates)
      if (node.replayLsn < need && node.lagSeconds < behind) node.lagSeconds = behind
  }

  /**
   * A read of the primary's position that started after this call: one already running may have
   * read it before the caller's token was written, so it is not shared; the next one is.
   */
  #fresh(): Promise<bigint> {
    this.#next ??= (this.#running ?? Promise.resolve(0n))
      .catch(() => 0n)
      .then(() => {
        this.#next = undefined
        const timeout = this.#settings.health.timeout
        const run = this.#primary.dispatcher
          .query(new TextQuery(LSN_SQL, undefined, timeout), timeout)
          .then((result) => lsnOf(result))
        this.#running = run
        void run
          .catch(() => undefined)
          .finally(() => {
            if (this.#running === run) this.#running = undefined
          })
        return run
      })
    return this.#next
  }
}

/**
 * The primary for a read that no replica can serve now — for every reason a read goes there (no
 * usable replica, a scope no replica replayed in time or is expected to): within
 * `fallback.maxPerSecond`, and only with `fallback.toPrimary`; else `ERR_DB_NO_REPLICA`.
 */
export function primaryFallback(cluster: Cluster, reason: 'no-replica' | 'consistency' | 'lag'): Node {
  const { toPrimary } = cluster.settings.fallback
  if (!toPrimary || !cluster.budget.take()) {
    publishFallback(cluster, reason, 'error')
    const why =
      reason === 'no-replica'
        ? 'no usable replica'
        : "no replica replayed the scope's writes in time (consistency.maxWait)"
    throw new DbNoReplicaError(
      toPrimary
        ? `${why} and the fallback budget (fallback.maxPerSecond) is spent`
        : `${why} (fallback to the primary is off)`,
    )
  }
  publishFallback(cluster, reason, 'primary')
  return cluster.primary
}

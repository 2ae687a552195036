import { channels } from '../channels'
import { timedQuery } from '../nodes/dispatcher'
import { parseLsn } from '../internal/lsn'
import type { Node } from './node'
import { LsnHistory } from '../internal/lsn-history'

/** Health settings, resolved. */
export interface HealthSettings {
  readonly interval: number
  readonly timeout: number
  readonly fall: number
  readonly rise: number
  readonly maxLagBytes: number
  readonly maxLagSeconds: number
  readonly readmitRatio: number
}

// `started` (the postmaster's start time, to the microsecond) tells one server from another: a
// "replica" that is not in recovery and started when the primary did is the primary itself.
const PRIMARY_CHECK = `SELECT pg_is_in_recovery() AS in_recovery,
  CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS lsn,
  pg_postmaster_start_time()::text AS started`
const REPLICA_CHECK = `SELECT pg_is_in_recovery() AS in_recovery,
  pg_last_wal_replay_lsn()::text AS replay, pg_last_wal_receive_lsn()::text AS receive,
  pg_postmaster_start_time()::text AS started`

interface PrimaryRow {
  in_recovery: boolean
  lsn: string | null
  started: string
}
interface ReplicaRow {
  in_recovery: boolean
  replay: string | null
  receive: string | null
  started: string
}

/**
 * The background check of every node: the primary's role and WAL position, each replica's role,
 * replay position, lag in bytes and seconds. Replicas are excluded after `fall` bad checks and
 * readmitted after `rise` good ones under `readmitRatio` × the limits (hysteresis). A replica that
 * is no longer in recovery is `promoted` (excluded); a primary in recovery is `read-only`.
 */
export class HealthMonitor {
  readonly #primary: Node
  readonly #replicas: readonly Node[]
  readonly #settings: HealthSettings
  readonly #history: LsnHistory
  #timer: NodeJS.Timeout | undefined
  #round: Promise<void> | undefined
  #stopped = false
  #primaryLsn: bigint | undefined
  #primaryStarted: string | undefined
  /** Nodes that answered a check at least once: a node that never did is down at its first failure. */
  readonly #answered = new WeakSet<Node>()

  /** `history`: the primary's positions over time, shared with the read path (scoped reads add theirs). */
  constructor(primary: Node, replicas: readonly Node[], settings: HealthSettings, history?: LsnHistory) {
    this.#primary = primary
    this.#replicas = replicas
    this.#settings = settings
    const window = Math.ceil((settings.maxLagSeconds * 4 * 1000) / settings.interval) + 2
    this.#history = history ?? new LsnHistory(Math.min(Math.max(window, 8), 10_000))
  }

  /** Starts the loop (idempotent); the first round runs at once. */
  start(): void {
    if (this.#timer !== undefined || this.#round !== undefined || this.#stopped) return
    this.#schedule(0)
  }

  /** Runs one round now (also used by tests and by `db.checkHealth()`). */
  async checkNow(): Promise<void> {
    if (this.#round !== undefined) return this.#round
    this.#round = this.#check().finally(() => {
      this.#round = undefined
    })
    return this.#round
  }

  /** Stops the loop and waits for a running round. */
  async stop(): Promise<void> {
    this.#stopped = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    await this.#round
  }

  #schedule(ms: number): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined
      void this.checkNow().finally(() => {
        if (!this.#stopped) this.#schedule(this.#settings.interval)
      })
    }, ms)
    this.#timer.unref()
  }

  async #check(): Promise<void> {
    await this.#checkPrimary()
    await Promise.all(this.#replicas.map((r) => this.#checkReplica(r)))
  }

  async #checkPrimary(): Promise<void> {
    const node = this.#primary
    try {
      const [row] = await timedQuery<PrimaryRow>(node.dispatcher, PRIMARY_CHECK, [], this.#settings.timeout)
      if (row === undefined) throw new Error('empty check result')
      this.#answered.add(node)
      this.#primaryStarted = row.started
      node.badStreak = 0
      if (row.in_recovery) {
        this.#primaryLsn = undefined
        node.setState('read-only', 'in-recovery')
        return
      }
      if (row.lsn !== null) {
        this.#primaryLsn = parseLsn(row.lsn)
        this.#history.push(Date.now(), this.#primaryLsn)
      }
      if (node.state !== 'up')
        node.setState('up', node.state === 'read-only' ? 'not-in-recovery' : 'recovered')
    } catch {
      this.#primaryLsn = undefined
      this.#primaryStarted = undefined
      node.badStreak += 1
      this.#failed(node)
    }
  }

  /**
   * A failed check: `fall` in a row put an up node down (hysteresis against a blip), but a node that
   * never answered is down at once — so the first `checkHealth()` of a router whose node is dead
   * says so.
   */
  #failed(node: Node): void {
    if (node.state !== 'up') return
    if (!this.#answered.has(node)) node.setState('down', 'never-answered')
    else if (node.badStreak >= this.#settings.fall) node.setState('down', 'check-failed')
  }

  async #checkReplica(node: Node): Promise<void> {
    const s = this.#settings
    let row: ReplicaRow | undefined
    try {
      ;[row] = await timedQuery<ReplicaRow>(node.dispatcher, REPLICA_CHECK, [], s.timeout)
    } catch {
      row = undefined
    }
    if (row === undefined) {
      node.goodStreak = 0
      node.badStreak += 1
      this.#failed(node)
      return
    }
    this.#answered.add(node)
    if (!row.in_recovery) {
      if (row.started === this.#primaryStarted) node.setState('is-primary', 'same-server-as-primary')
      else node.setState('promoted', 'not-in-recovery')
      return
    }
    if (row.replay !== null) node.sawReplay(parseLsn(row.replay))
    const primary = this.#primaryLsn
    node.lagBytes = primary === undefined ? undefined : Math.max(0, Number(primary - node.replayLsn))
    node.lagSeconds = node.lagBytes === 0 ? 0 : this.#history.secondsBehind(node.replayLsn, Date.now())
    if (channels.lag.hasSubscribers) {
      channels.lag.publish({
        node: node.name,
        lagBytes: node.lagBytes,
        lagSeconds: node.lagSeconds,
        replayLsn: row.replay ?? '0/0',
      })
    }
    const bytes = node.lagBytes ?? 0
    const over = bytes > s.maxLagBytes || node.lagSeconds > s.maxLagSeconds
    const calm =
      bytes <= s.maxLagBytes * s.readmitRatio && node.lagSeconds <= s.maxLagSeconds * s.readmitRatio
    if (node.state === 'up') {
      node.goodStreak = 0
      node.badStreak = over ? node.badStreak + 1 : 0
      if (node.badStreak >= s.fall) node.setState('lagging', 'lag')
      return
    }
    node.badStreak = 0
    node.goodStreak = calm ? node.goodStreak + 1 : 0
    if (node.goodStreak >= s.rise) node.setState('up', node.state === 'lagging' ? 'caught-up' : 'recovered')
  }
}

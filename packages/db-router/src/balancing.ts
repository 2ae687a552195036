/**
 * How a read picks a replica among the usable ones:
 * - `round-robin`: in turn.
 * - `random`: uniformly at random.
 * - `least-outstanding`: the one with the fewest queries in flight (ties in turn).
 * - `weighted`: smooth weighted round-robin by each replica's `weight` (nginx's algorithm: exact
 *   shares, interleaved).
 * - `latency` (the default): power of two choices — two replicas at random, the one with the lower
 *   EWMA latency × (in flight + 1) / weight wins. Adapts to a slow or overloaded node without
 *   herding onto one, and needs no coordination between instances. A node's average fades while
 *   it is not used (5 s time constant), so a replica once slow is tried again.
 */
export type BalancePolicy = 'round-robin' | 'random' | 'least-outstanding' | 'weighted' | 'latency'

/** Every policy name, for validation. */
export const BALANCE_POLICIES: readonly BalancePolicy[] = [
  'round-robin',
  'random',
  'least-outstanding',
  'weighted',
  'latency',
]

/** What a policy reads from a node. */
export interface Balanceable {
  readonly weight: number
  /** Queries in flight on the node. */
  readonly outstanding: number
  /** Exponentially weighted moving average of its query latency, ms (0 until measured). */
  readonly ewmaMs: number
  /** `performance.now()` of its last latency sample; the average fades while the node is not used. */
  readonly sampledAt?: number
}

/** A latency sample this old counts for 1/e: a node passed over for being slow gets tried again. */
const EWMA_DECAY_MS = 5000

/** Picks one of a non-empty list; `random` is injectable for tests. */
export type Balancer<T extends Balanceable> = (nodes: readonly T[]) => T

/** Creates the picker of a policy; each picker keeps its own state (turn, current weights). */
export function createBalancer<T extends Balanceable>(
  policy: BalancePolicy,
  random: () => number = Math.random,
): Balancer<T> {
  switch (policy) {
    case 'round-robin': {
      let turn = 0
      return (nodes) => pick(nodes, turn++ % nodes.length)
    }
    case 'random':
      return (nodes) => pick(nodes, Math.floor(random() * nodes.length))
    case 'least-outstanding': {
      let turn = 0
      return (nodes) => {
        turn += 1
        let best = pick(nodes, turn % nodes.length)
        for (let i = 0; i < nodes.length; i++) {
          const n = pick(nodes, (turn + i) % nodes.length)
          if (n.outstanding < best.outstanding) best = n
        }
        return best
      }
    }
    case 'weighted': {
      const current = new WeakMap<T, number>()
      return (nodes) => {
        let total = 0
        let best: T | undefined
        let bestWeight = Number.NEGATIVE_INFINITY
        for (const n of nodes) {
          const w = (current.get(n) ?? 0) + n.weight
          current.set(n, w)
          total += n.weight
          if (w > bestWeight) {
            bestWeight = w
            best = n
          }
        }
        const chosen = best ?? pick(nodes, 0)
        current.set(chosen, bestWeight - total)
        return chosen
      }
    }
    case 'latency':
      return (nodes) => {
        if (nodes.length === 1) return pick(nodes, 0)
        const i = Math.floor(random() * nodes.length)
        let j = Math.floor(random() * (nodes.length - 1))
        if (j >= i) j += 1
        const a = pick(nodes, i)
        const b = pick(nodes, j)
        const now = performance.now()
        return cost(b, now) < cost(a, now) ? b : a
      }
  }
}

function cost(n: Balanceable, now: number): number {
  const age = n.sampledAt === undefined ? 0 : Math.max(0, now - n.sampledAt)
  const latency = n.ewmaMs * Math.exp(-age / EWMA_DECAY_MS)
  // 1 ms floor: unmeasured (or long unused) nodes are cheap, so they get tried, but still ordered by load.
  return (Math.max(latency, 1) * (n.outstanding + 1)) / n.weight
}

function pick<T>(nodes: readonly T[], index: number): T {
  const node = nodes[index]
  if (node === undefined) throw new RangeError('balancer called with no node')
  return node
}

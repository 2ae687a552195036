import type { AsyncLocalStorage } from 'node:async_hooks'
import type { Balancer } from '../balancing'
import type { Classifier } from '../classify/classifier'
import type { ReplayTracker } from '../consistency/replay'
import type { Scope } from '../consistency/scope'
import type { SessionCaptures } from '../consistency/sessions'
import type { RateBudget } from '../internal/budget'
import type { Node } from '../nodes/node'
import type { ResolvedOptions } from '../options'
import type { Trouble } from '../trouble'

/** What the routing functions share: the nodes, the settings, and the router's per-instance state. */
export interface Cluster {
  readonly primary: Node
  readonly replicas: readonly Node[]
  readonly settings: ResolvedOptions
  readonly classifier: Classifier
  readonly balance: Balancer<Node>
  /** The fallback budget (`fallback.maxPerSecond`). */
  readonly budget: RateBudget
  readonly scopes: AsyncLocalStorage<Scope>
  /** In-flight replay-position probes, one per node at a time. */
  readonly probes: Map<Node, Promise<void>>
  /** Sessions `connect()` handed out in a scope, whose release captures the primary's position. */
  readonly sessions: SessionCaptures
  /** The primary's positions over time: clamps forged tokens, and says when waiting for a replica is worth it. */
  readonly replay: ReplayTracker
  /** Warnings of trouble the router handles (a node out, a breaker open, fallbacks). */
  readonly trouble: Trouble
  /** Starts the health checks on first use (calls are admitted, or refused once closed, by the router). */
  start(): void
  /**
   * The router's count of calls in flight (what `close()` waits for). A routing function that
   * settles a call (`runRead`, `runWrite`, `runOnPrimary`) counts it from its start to its end in the
   * `try`/`finally` of its own `async` body: no promise layer of its own.
   */
  readonly calls: { enter(): void; leave(): void }
}

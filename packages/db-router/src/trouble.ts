import { createWarner } from '@scalekit/internal'
import type { Logger, Warner } from '@scalekit/internal'
import type { NodeRole, NodeState } from './channels'

/** What the warnings need to know of a node. */
interface NodeRef {
  readonly name: string
  readonly role: NodeRole
}

/** The warning code of each state a node can be put out in (`code` of the logged object). */
const STATE_CODES: Readonly<Partial<Record<NodeState, string>>> = {
  down: 'ERR_DB_NODE_DOWN',
  lagging: 'ERR_DB_NODE_LAGGING',
  promoted: 'ERR_DB_NODE_PROMOTED',
  'read-only': 'ERR_DB_PRIMARY_READ_ONLY',
  'is-primary': 'ERR_DB_REPLICA_IS_PRIMARY',
}

/**
 * Where the router reports trouble it otherwise handles silently — a node out, a breaker open, reads
 * falling back to the primary — through the logger seam: one warning per episode per minute, and
 * the end of an episode at `info`. Fields carry node names and codes, never SQL text or parameters.
 */
export class Trouble {
  readonly #warner: Warner

  constructor(logger: Logger | undefined) {
    this.#warner = createWarner('db-router', logger)
  }

  /** A node changed state: out (down, lagging, promoted, read-only) starts an episode, `up` ends it. */
  nodeState(node: NodeRef, from: NodeState, to: NodeState, reason: string): void {
    const episode = `node:${node.name}`
    const code = STATE_CODES[to]
    if (code === undefined) {
      this.#warner.recover(episode, `db-router: ${node.role} ${node.name} is up again (${reason})`)
      // A replica back: reads stop falling back for want of one.
      if (node.role === 'replica') this.#warner.recover('fallback:no-replica')
      return
    }
    const effect =
      node.role === 'primary'
        ? to === 'read-only'
          ? 'writes are refused'
          : 'writes fail'
        : to === 'is-primary'
          ? 'it is the primary server itself (the same server under another address): check the replica URLs; its reads go to other nodes'
          : 'its reads go to other nodes'
    this.#warner.warn(
      episode,
      { code, node: node.name, role: node.role, from, to, reason },
      `db-router: ${node.role} ${node.name} is ${to} (${reason}); ${effect}`,
    )
  }

  /** A node's breaker changed state: `open` starts an episode, `closed` ends it. */
  breaker(node: NodeRef, state: 'open' | 'half-open' | 'closed'): void {
    const episode = `breaker:${node.name}`
    if (state === 'closed') this.#warner.recover(episode, `db-router: the breaker of ${node.name} closed`)
    else if (state === 'open') {
      this.#warner.warn(
        episode,
        { code: 'EOPENBREAKER', node: node.name, role: node.role },
        `db-router: the breaker of ${node.role} ${node.name} opened; its calls fail fast until a trial succeeds`,
      )
    }
  }

  /** A consistency token claimed a position the primary has not reached: clamped to the primary's. */
  tokenAhead(): void {
    this.#warner.warn(
      'token-ahead',
      { code: 'ERR_DB_INVALID_TOKEN' },
      "db-router: a consistency token claimed a WAL position ahead of the primary's own (forged, or from another cluster); clamped to the primary's position",
    )
  }

  /** A read went to the primary (or failed) for want of a replica. */
  fallback(
    reason: 'no-replica' | 'consistency' | 'lag' | 'read-only-retry',
    outcome: 'primary' | 'error',
  ): void {
    // A scoped read that found no replica caught up in time is the design working, not trouble —
    // unless the budget refused it.
    if ((reason === 'consistency' || reason === 'lag') && outcome === 'primary') return
    if (reason === 'consistency' || reason === 'lag') {
      this.#warner.warn(
        'fallback:consistency',
        { code: 'ERR_DB_NO_REPLICA', reason, outcome },
        'db-router: scoped reads no replica replayed in time are refused: the fallback budget (fallback.maxPerSecond) is spent or fallback.toPrimary is false',
      )
      return
    }
    if (reason === 'read-only-retry') {
      this.#warner.warn(
        'fallback:read-only-retry',
        { code: '25006', reason, outcome },
        'db-router: a replica refused a statement classified as a read (25006); it was retried on the primary and is now sent there',
      )
      return
    }
    this.#warner.warn(
      'fallback:no-replica',
      { code: 'ERR_DB_NO_REPLICA', reason, outcome },
      outcome === 'primary'
        ? 'db-router: no usable replica; reads fall back to the primary'
        : 'db-router: no usable replica and no fallback to the primary; reads fail',
    )
  }
}

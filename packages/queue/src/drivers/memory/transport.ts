import type { Warner } from '@scalekit/internal'
import { QueueClosedError, QueueTopologyMismatchError, QueueUnroutableError } from '../../errors'
import { deferred } from '../../internal/deferred'
import { Fifo } from '../../internal/fifo'
import type {
  Confirmed,
  ConnectedNodes,
  DeadLetter,
  DeadLetterRecord,
  Delivery,
  Envelope,
  GroupStats,
  Send,
  SubscribeSpec,
  Subscription,
  Transport,
  TransportHealth,
} from '../transport'

/** The memory transport connects to no broker node. */
const NO_NODES: ConnectedNodes = Object.freeze({ consume: undefined, publish: Object.freeze([]) })

interface Item {
  readonly envelope: Envelope
  redeliveries: number
}

interface Consumer {
  readonly prefetch: number
  readonly onDelivery: (d: Delivery) => void
  unacked: number
  active: boolean
}

/** One group's queue: FIFO, shared by the group's consumers round-robin, with a delivery limit. */
class GroupQueue {
  readonly ready = new Fifo<Item>()
  readonly consumers: Consumer[] = []
  #next = 0
  /** The delivery limit it was declared with, as RabbitMQ's `x-delivery-limit`. */
  readonly limit: number
  readonly #deadLetters: DeadLetterRecord[]
  readonly #group: string

  constructor(limit: number, group: string, deadLetters: DeadLetterRecord[]) {
    this.limit = limit
    this.#group = group
    this.#deadLetters = deadLetters
  }

  push(item: Item, front = false): void {
    if (front) this.ready.unshiftAll([item])
    else this.ready.push(item)
    this.dispatch()
  }

  dispatch(): void {
    for (;;) {
      const consumer = this.#pick()
      if (consumer === undefined) return
      const item = this.ready.shift()
      if (item === undefined) return
      consumer.unacked += 1
      let settled = false
      const settle = (): boolean => {
        if (settled) return false
        settled = true
        consumer.unacked -= 1
        return true
      }
      const delivery: Delivery = {
        envelope: item.envelope,
        rawId: item.envelope.messageId,
        redeliveries: item.redeliveries,
        ack: () => {
          if (settle()) this.dispatch()
        },
        requeue: () => {
          if (!settle()) return
          item.redeliveries += 1
          if (item.redeliveries > this.limit) {
            this.#deadLetters.push({
              envelope: item.envelope,
              group: this.#group,
              reason: 'delivery-limit',
              attempts: item.envelope.attempt,
              error: undefined,
            })
            this.dispatch()
          } else this.push(item, true)
        },
      }
      // Asynchronous like a network delivery: a handler never runs inside publish().
      setImmediate(() => {
        consumer.onDelivery(delivery)
      })
    }
  }

  #pick(): Consumer | undefined {
    const n = this.consumers.length
    for (let i = 0; i < n; i++) {
      const c = this.consumers[(this.#next + i) % n]
      if (c !== undefined && c.active && c.unacked < c.prefetch) {
        this.#next = (this.#next + i + 1) % n
        return c
      }
    }
    return undefined
  }
}

/**
 * The in-process broker of one app name: every memory client created with the same `app` in this
 * process shares it, as RabbitMQ clients of one app share their exchange and queues. It holds no
 * client's settings: a group queue keeps the delivery limit it was declared with, and a client
 * that declares it with another is refused, as RabbitMQ refuses it.
 */
class MemoryBroker {
  /** Clients of this app not closed yet: when the last closes, what its queues hold is lost with the process. */
  clients = 0
  readonly queues = new Map<string, Map<string, GroupQueue>>()
  /** Each group's dead letters, oldest first (one dead-letter queue per group, as on RabbitMQ). */
  readonly deadLetters = new Map<string, DeadLetterRecord[]>()

  deadLettersOf(group: string): DeadLetterRecord[] {
    let list = this.deadLetters.get(group)
    if (list === undefined) {
      list = []
      this.deadLetters.set(group, list)
    }
    return list
  }

  targets(type: string, target: Send['target']): GroupQueue[] {
    const groups = this.queues.get(type)
    if (groups === undefined) return []
    if (target.kind === 'type') return [...groups.values()]
    const q = groups.get(target.group)
    return q === undefined ? [] : [q]
  }

  /** Declares the group queue of `type` with `deliveryLimit`, or returns it if declared alike. */
  declare(app: string, type: string, group: string, deliveryLimit: number): GroupQueue {
    let groups = this.queues.get(type)
    if (groups === undefined) {
      groups = new Map()
      this.queues.set(type, groups)
    }
    let q = groups.get(group)
    if (q === undefined) {
      q = new GroupQueue(deliveryLimit, group, this.deadLettersOf(group))
      groups.set(group, q)
    } else if (q.limit !== deliveryLimit) {
      const resource = `${app}.${group}.${type}`
      throw new QueueTopologyMismatchError(
        `${resource} already exists with a different x-delivery-limit (${q.limit}, this client asks for ${deliveryLimit}); every client of one app must use the same deliveryLimit`,
        { resource, argument: 'x-delivery-limit' },
      )
    }
    return q
  }
}

const brokers = new Map<string, MemoryBroker>()

/**
 * The in-memory transport: the same routing (each group of a type gets a copy, instances of a group
 * share it), delays, retries, dead-letters and delivery limit as RabbitMQ, within one process and
 * without durability. Clients of one `app` share a broker.
 */
export class MemoryTransport implements Transport {
  readonly #broker: MemoryBroker
  readonly #app: string
  readonly #deliveryLimit: number
  #closed = false

  readonly #warner: Warner

  /** `declare`: group queues to hold messages before any consumer of theirs exists (the `declare` option). */
  constructor(
    app: string,
    deliveryLimit: number,
    declare: readonly (readonly [string, string])[],
    warner: Warner,
  ) {
    let broker = brokers.get(app)
    if (broker === undefined) {
      broker = new MemoryBroker()
      brokers.set(app, broker)
    }
    this.#broker = broker
    this.#app = app
    this.#deliveryLimit = deliveryLimit
    this.#warner = warner
    broker.clients += 1
    for (const [type, group] of declare) {
      try {
        broker.declare(app, type, group, deliveryLimit)
      } catch (error) {
        // As on RabbitMQ: the queue exists (with another limit) and still takes the messages.
        const mismatch = error as QueueTopologyMismatchError
        warner.warn(
          `topology-mismatch:${mismatch.resource}`,
          { code: mismatch.code, resource: mismatch.resource, argument: mismatch.argument, type, group },
          mismatch.message,
        )
      }
    }
  }

  async takeDeadLetters(group: string, max: number): Promise<DeadLetterRecord[]> {
    if (this.#closed) throw new QueueClosedError('the queue is closed')
    await Promise.resolve()
    return this.#broker.deadLettersOf(group).splice(0, max)
  }

  async send(send: Send): Promise<Confirmed> {
    if (this.#closed) throw new QueueClosedError('the queue is closed')
    const targets = this.#broker.targets(send.envelope.type, send.target)
    if (targets.length === 0) {
      throw new QueueUnroutableError(
        `no consumer group has declared a queue for ${send.envelope.type} yet: start a consumer first, or list its groups in the declare option (the message was not kept)`,
      )
    }
    const deliver = (): void => {
      for (const q of targets) q.push({ envelope: send.envelope, redeliveries: 0 })
    }
    // Like the broker's ladder, a delay outlives the client that asked for it (not the process).
    if (send.delayMs <= 0) deliver()
    else setTimeout(deliver, send.delayMs).unref()
    await Promise.resolve()
    return { messageId: send.envelope.messageId }
  }

  async deadLetter(dead: DeadLetter): Promise<Confirmed> {
    if (this.#closed) throw new QueueClosedError('the queue is closed')
    this.#broker.deadLettersOf(dead.group).push({
      envelope: dead.envelope,
      group: dead.group,
      reason: dead.reason,
      attempts: dead.attempts,
      error: dead.error,
    })
    await Promise.resolve()
    return { messageId: dead.envelope.messageId }
  }

  subscribe(spec: SubscribeSpec, onDelivery: (d: Delivery) => void): Subscription {
    if (this.#closed) throw new QueueClosedError('the queue is closed')
    const consumer: Consumer = { prefetch: spec.prefetch, onDelivery, unacked: 0, active: false }
    const ready = deferred()
    ready.promise.catch(() => undefined)
    let queue: GroupQueue | undefined
    try {
      queue = this.#broker.declare(this.#app, spec.type, spec.group, this.#deliveryLimit)
      consumer.active = true
      queue.consumers.push(consumer)
      const declared = queue
      setImmediate(() => {
        declared.dispatch()
      })
      ready.resolve(undefined)
    } catch (error) {
      // Like RabbitMQ's 406 on the declaration: the consumer never attaches, `ready` says why.
      ready.reject(error)
    }
    return {
      get attached() {
        return consumer.active
      },
      ready: ready.promise,
      stop: async () => {
        consumer.active = false
        await Promise.resolve()
      },
      close: async () => {
        consumer.active = false
        const i = queue?.consumers.indexOf(consumer) ?? -1
        if (i >= 0) queue?.consumers.splice(i, 1)
        queue?.dispatch()
        await Promise.resolve()
      },
    }
  }

  health(): TransportHealth {
    return {
      connection: this.#closed ? 'closed' : 'connected',
      connected: !this.#closed,
      refusing: this.#closed,
      blocked: false,
      buffered: 0,
      bufferedBytes: 0,
      inFlight: 0,
      error: undefined,
      nodes: NO_NODES,
    }
  }

  async groupStats(): Promise<GroupStats[]> {
    const out: GroupStats[] = []
    for (const [type, groups] of this.#broker.queues) {
      for (const [group, q] of groups)
        out.push({
          type,
          group,
          messages: q.ready.length,
          consumers: q.consumers.filter((c) => c.active).length,
        })
    }
    return Promise.resolve(out)
  }

  async close(_deadline: number): Promise<void> {
    if (!this.#closed) {
      this.#closed = true
      this.#broker.clients -= 1
      if (this.#broker.clients === 0) this.#warnUndelivered()
    }
    await Promise.resolve()
  }

  /** The last client of this app closed with messages still queued: they live only as long as the process. */
  #warnUndelivered(): void {
    let messages = 0
    for (const groups of this.#broker.queues.values())
      for (const q of groups.values()) messages += q.ready.length
    if (messages === 0) return
    this.#warner.warn(
      `memory-undelivered:${this.#app}`,
      { code: 'ERR_QUEUE_CLOSED', app: this.#app, messages },
      `${messages} message(s) are still in the in-memory queues of app ${this.#app} with no client left to consume them: they are lost when the process exits (the memory transport is not durable; use RabbitMQ for that)`,
    )
  }
}

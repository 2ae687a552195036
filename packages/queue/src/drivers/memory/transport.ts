import { QueueClosedError, QueueUnroutableError } from '../../errors'
import { deferred } from '../../internal/deferred'
import { Fifo } from '../../internal/fifo'
import type { Confirmed, DeadLetter, Delivery, Envelope, GroupStats, Send, SubscribeSpec, Subscription, Transport, TransportHealth } from '../transport'

/** A dead-lettered message as the memory transport keeps it. */
export interface MemoryDeadLetter {
  readonly envelope: Envelope
  readonly reason: string
  readonly attempts: number
  readonly error: string | undefined
}

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
  readonly deadLetters: MemoryDeadLetter[] = []
  #next = 0
  readonly #limit: number

  constructor(limit: number) {
    this.#limit = limit
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
          if (item.redeliveries > this.#limit) {
            this.deadLetters.push({ envelope: item.envelope, reason: 'delivery-limit', attempts: item.envelope.attempt, error: undefined })
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
 * process shares it, as RabbitMQ clients of one app share their exchange and queues.
 */
class MemoryBroker {
  readonly queues = new Map<string, Map<string, GroupQueue>>()
  readonly #deliveryLimit: number

  constructor(deliveryLimit: number) {
    this.#deliveryLimit = deliveryLimit
  }

  targets(type: string, target: Send['target']): GroupQueue[] {
    const groups = this.queues.get(type)
    if (groups === undefined) return []
    if (target.kind === 'type') return [...groups.values()]
    const q = groups.get(target.group)
    return q === undefined ? [] : [q]
  }

  queue(type: string, group: string): GroupQueue {
    let groups = this.queues.get(type)
    if (groups === undefined) {
      groups = new Map()
      this.queues.set(type, groups)
    }
    let q = groups.get(group)
    if (q === undefined) {
      q = new GroupQueue(this.#deliveryLimit)
      groups.set(group, q)
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
  #closed = false

  constructor(app: string, deliveryLimit: number) {
    let broker = brokers.get(app)
    if (broker === undefined) {
      broker = new MemoryBroker(deliveryLimit)
      brokers.set(app, broker)
    }
    this.#broker = broker
  }

  /** The dead letters of one group, oldest first (a copy). */
  deadLetters(type: string, group: string): MemoryDeadLetter[] {
    return [...(this.#broker.queues.get(type)?.get(group)?.deadLetters ?? [])]
  }

  async send(send: Send): Promise<Confirmed> {
    if (this.#closed) throw new QueueClosedError('the queue is closed')
    const targets = this.#broker.targets(send.envelope.type, send.target)
    if (targets.length === 0) {
      throw new QueueUnroutableError(`no consumer group has declared a queue for ${send.envelope.type} yet; start a consumer first`)
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
    this.#broker.queue(dead.envelope.type, dead.group).deadLetters.push({ envelope: dead.envelope, reason: dead.reason, attempts: dead.attempts, error: dead.error })
    await Promise.resolve()
    return { messageId: dead.envelope.messageId }
  }

  subscribe(spec: SubscribeSpec, onDelivery: (d: Delivery) => void): Subscription {
    if (this.#closed) throw new QueueClosedError('the queue is closed')
    const queue = this.#broker.queue(spec.type, spec.group)
    const consumer: Consumer = { prefetch: spec.prefetch, onDelivery, unacked: 0, active: true }
    queue.consumers.push(consumer)
    setImmediate(() => {
      queue.dispatch()
    })
    const ready = deferred()
    ready.resolve(undefined)
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
        const i = queue.consumers.indexOf(consumer)
        if (i >= 0) queue.consumers.splice(i, 1)
        queue.dispatch()
        await Promise.resolve()
      },
    }
  }

  health(): TransportHealth {
    return { connected: !this.#closed, blocked: false, buffered: 0, bufferedBytes: 0, inFlight: 0 }
  }

  async stats(): Promise<GroupStats[]> {
    const out: GroupStats[] = []
    for (const [type, groups] of this.#broker.queues) {
      for (const [group, q] of groups) out.push({ type, group, messages: q.ready.length, consumers: q.consumers.filter((c) => c.active).length })
    }
    return Promise.resolve(out)
  }

  async close(_deadline: number): Promise<void> {
    this.#closed = true
    await Promise.resolve()
  }
}

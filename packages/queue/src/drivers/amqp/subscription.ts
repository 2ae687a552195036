import type { Channel, ChannelModel, ConsumeMessage } from 'amqplib'
import { channels } from '../../channels'
import type { QueueConnectionEvent } from '../../channels'
import { describeError } from '../../internal/describe'
import { QueueTopologyMismatchError, timedOut } from '../../errors'
import { backoffDelay } from '@scalekit/internal'
import type { Backoff, Warner } from '@scalekit/internal'
import { deferred } from '../../internal/deferred'
import { sleep, withTimeout } from '@scalekit/internal'
import { Acker } from './acker'
import { fromMessage, redeliveries } from './codec'
import type { ReadAs } from './codec'
import { assertGroup } from './topology'
import type { Topology } from './topology'
import type { Delivery, Envelope, SubscribeSpec, Subscription } from '../transport'

interface Settings {
  readonly topology: Topology
  readonly deliveryLimit: number
  readonly timeout: number
  readonly reconnect: Backoff
  /** Where a topology mismatch is reported (once per episode). */
  readonly warner: Warner
  /** Called once when the subscription is closed for good. */
  readonly onClosed: (sub: AmqpSubscription) => void
}

/**
 * A consumer's attachment to its group queue: a channel of its own (its prefetch, and a 406 on
 * its declaration cannot break other consumers), declared and consumed again on every connection,
 * and again after the broker cancels it (queue deleted).
 */
export class AmqpSubscription implements Subscription {
  readonly #spec: SubscribeSpec
  readonly #onDelivery: (d: Delivery) => void
  readonly #settings: Settings
  /** How its deliveries are read: as this consumer's type, attempts only from its retry key (made once, not per message). */
  readonly #readAs: ReadAs
  readonly #ready = deferred()
  #connection: ChannelModel | undefined
  #channel: Channel | undefined
  /** The acknowledgements of `#channel`. */
  #acker: Acker | undefined
  #consumerTag: string | undefined
  #attached = false
  #stopped = false
  #failures = 0
  #attaching: { connection: ChannelModel; done: Promise<void> } | undefined

  constructor(spec: SubscribeSpec, onDelivery: (d: Delivery) => void, settings: Settings) {
    this.#spec = spec
    this.#onDelivery = onDelivery
    this.#settings = settings
    this.#readAs = { type: spec.type, retryKey: settings.topology.retryKey(spec.type, spec.group) }
    this.#ready.promise.catch(() => undefined)
  }

  get attached(): boolean {
    return this.#attached
  }

  get ready(): Promise<void> {
    return this.#ready.promise
  }

  /** What it consumes. */
  get spec(): SubscribeSpec {
    return this.#spec
  }

  /**
   * Attaches on `connection`; failures are reported, and retried while the connection lives. One
   * attach at a time: two would leave a second consumer whose deliveries nobody acknowledges.
   */
  async attach(connection: ChannelModel): Promise<void> {
    if (this.#attaching?.connection === connection) return this.#attaching.done
    this.#connection = connection
    const done = this.#attachLoop(connection).finally(() => {
      if (this.#attaching?.done === done) this.#attaching = undefined
    })
    this.#attaching = { connection, done }
    return done
  }

  async #attachLoop(connection: ChannelModel): Promise<void> {
    while (!this.#stopped && this.#connection === connection) {
      try {
        await this.#attachOnce(connection)
        this.#failures = 0
        return
      } catch (error) {
        this.#failures += 1
        this.#report('error', error)
        if (error instanceof QueueTopologyMismatchError) {
          this.#settings.warner.warn(
            `topology-mismatch:${error.resource}`,
            {
              code: error.code,
              resource: error.resource,
              argument: error.argument,
              type: this.#spec.type,
              group: this.#spec.group,
            },
            `${error.resource} exists on the broker with a different ${error.argument ?? 'definition'}: the consumer cannot attach`,
          )
          // Retrying cannot fix it; the next connection tries again.
          this.#ready.reject(error)
          return
        }
        await sleep(backoffDelay(this.#settings.reconnect, this.#failures))
      }
    }
  }

  /**
   * The broker cannot be reached yet, or refused the login or vhost: `ready` rejects with why (if
   * it has not resolved). Attaching goes on with the next connection, if there is one.
   */
  fail(error: unknown): void {
    this.#ready.reject(error)
  }

  /** The connection is gone; its channel with it. */
  detach(): void {
    this.#connection = undefined
    this.#channel = undefined
    this.#acker?.discard()
    this.#acker = undefined
    this.#consumerTag = undefined
    if (this.#attached) this.#report('consumer-detached')
    this.#attached = false
  }

  async stop(): Promise<void> {
    this.#stopped = true
    const ch = this.#channel
    const tag = this.#consumerTag
    this.#attached = false
    if (ch !== undefined && tag !== undefined)
      await withTimeout(
        ch.cancel(tag),
        this.#settings.timeout,
        timedOut('basic.cancel', this.#settings.timeout),
      ).catch(() => undefined)
  }

  async close(): Promise<void> {
    this.#stopped = true
    this.#settings.onClosed(this)
    this.#attached = false
    const ch = this.#channel
    this.#channel = undefined
    // Handled messages first: their acks may still wait for the next batch.
    this.#flushAcks()
    this.#acker = undefined
    // Closing the channel returns every unacknowledged message to the queue.
    if (ch !== undefined)
      await withTimeout(
        ch.close(),
        this.#settings.timeout,
        timedOut('channel.close', this.#settings.timeout),
      ).catch(() => undefined)
  }

  async #attachOnce(connection: ChannelModel): Promise<void> {
    const { topology, deliveryLimit, timeout } = this.#settings
    const ch = await withTimeout(connection.createChannel(), timeout, timedOut('channel.open', timeout))
    const acker = new Acker(ch)
    ch.on('error', () => undefined)
    ch.on('close', () => {
      acker.discard()
      if (this.#channel !== ch) return
      this.#channel = undefined
      this.#acker = undefined
      this.#consumerTag = undefined
      if (this.#attached) this.#report('consumer-detached')
      this.#attached = false
      // The channel died but the connection lives (e.g. a 404 on a deleted queue): attach again.
      if (!this.#stopped && this.#connection === connection) void this.attach(connection)
    })
    this.#channel = ch
    this.#acker = acker
    try {
      const queue = await assertGroup(ch, topology, this.#spec.type, this.#spec.group, deliveryLimit, timeout)
      await withTimeout(ch.prefetch(this.#spec.prefetch), timeout, timedOut('basic.qos', timeout))
      const reply = await withTimeout(
        ch.consume(queue, (msg) => {
          this.#onMessage(ch, acker, msg)
        }),
        timeout,
        timedOut('basic.consume', timeout),
      )
      this.#consumerTag = reply.consumerTag
    } catch (error) {
      this.#channel = undefined
      this.#acker = undefined
      acker.discard()
      ch.close().catch(() => undefined)
      throw error
    }
    if (this.#stopped) {
      await this.close()
      return
    }
    this.#attached = true
    this.#ready.resolve(undefined)
    this.#report('consumer-attached')
  }

  #onMessage(ch: Channel, acker: Acker, msg: ConsumeMessage | null): void {
    if (msg === null) {
      // Cancelled by the broker (its queue was deleted): declare and consume again.
      this.#attached = false
      this.#report('consumer-detached')
      const connection = this.#connection
      if (!this.#stopped && connection !== undefined) {
        this.#flushAcks()
        this.#channel = undefined
        this.#acker = undefined
        ch.close().catch(() => undefined)
        void this.attach(connection)
      }
      return
    }
    acker.delivered(msg.fields.deliveryTag)
    this.#onDelivery(new AmqpDelivery(this, ch, acker, msg, fromMessage(msg, this.#readAs)))
  }

  /** Whether `ch` is still this subscription's channel (a closed one gave its messages back). */
  owns(ch: Channel): boolean {
    return this.#channel === ch
  }

  /** Sends the acks still waiting for their batch, if the channel still lives. */
  #flushAcks(): void {
    try {
      this.#acker?.flush()
    } catch {
      // The channel is closed: the broker has returned those messages to the queue already.
    }
  }

  #report(event: 'consumer-attached' | 'consumer-detached' | 'error', error?: unknown): void {
    if (!channels.connection.hasSubscribers) return
    const payload: QueueConnectionEvent = {
      event,
      type: this.#spec.type,
      group: this.#spec.group,
      ...describeError(error),
    }
    channels.connection.publish(payload)
  }
}

/**
 * One delivery of a subscription, settled once: an ack (batched by the channel's acker) or a
 * requeue. A class, not an object of closures: one allocation per message.
 */
class AmqpDelivery implements Delivery {
  readonly envelope: Envelope | undefined
  readonly #subscription: AmqpSubscription
  readonly #channel: Channel
  readonly #acker: Acker
  readonly #msg: ConsumeMessage
  #settled = false

  constructor(
    subscription: AmqpSubscription,
    channel: Channel,
    acker: Acker,
    msg: ConsumeMessage,
    envelope: Envelope | undefined,
  ) {
    this.#subscription = subscription
    this.#channel = channel
    this.#acker = acker
    this.#msg = msg
    this.envelope = envelope
  }

  get rawId(): string {
    const id: unknown = this.#msg.properties.messageId
    return typeof id === 'string' ? id : `delivery-${this.#msg.fields.deliveryTag}`
  }

  get redeliveries(): number {
    return redeliveries(this.#msg)
  }

  ack(): void {
    if (this.#claim()) this.#acker.ack(this.#msg.fields.deliveryTag)
  }

  requeue(): void {
    if (!this.#claim()) return
    try {
      this.#acker.requeue(this.#msg.fields.deliveryTag)
    } catch {
      // The channel closed between the check and the call: the broker has the message back.
    }
  }

  /** Whether this call may settle it: the first, on a channel that still lives. */
  #claim(): boolean {
    if (this.#settled) return false
    this.#settled = true
    return this.#subscription.owns(this.#channel)
  }
}

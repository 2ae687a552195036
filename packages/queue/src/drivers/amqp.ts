import type { Channel, ChannelModel, ConfirmChannel } from 'amqplib'
import { QueueClosedError } from '../errors'
import { backoffDelay } from '../internal/backoff'
import { describeError } from '../internal/describe'
import { sleep, withTimeout } from '../internal/timeout'
import type { ResolvedQueueOptions } from '../options'
import { deadLetterHeaders, toProperties } from './amqp-codec'
import { emitConnectionEvent, openConnection, watchConnection } from './amqp-connection'
import { Publisher } from './amqp-publisher'
import { AmqpSubscription } from './amqp-subscription'
import { DELAY_HEADER, assertDelayStep, assertExchanges, delayStep, topology } from './amqp-topology'
import type { Topology } from './amqp-topology'
import type { DeadLetter, Delivery, GroupStats, Send, SubscribeSpec, Subscription, Transport, TransportHealth } from './transport'

/**
 * The RabbitMQ transport: one connection, reconnected with backoff and jitter; on each connection
 * the topology is declared again (idempotently), the confirm channel and every consumer re-created,
 * and the publish outbox flushed.
 */
export class AmqpTransport implements Transport {
  readonly #options: ResolvedQueueOptions
  readonly #topology: Topology
  readonly #publisher: Publisher
  readonly #subscriptions = new Set<AmqpSubscription>()
  /** Ladder steps in use; declared again on every connection. */
  readonly #steps = new Map<number, 'declared' | 'declaring' | 'wanted'>()
  readonly #stop = new AbortController()
  /** The connection once set up (consumers and publisher attached). */
  #connection: ChannelModel | undefined
  /** The latest connection opened, set up or not: what `close()` must close. */
  #current: ChannelModel | undefined
  #admin: Channel | undefined
  #loop: Promise<void> | undefined

  constructor(options: ResolvedQueueOptions) {
    this.#options = options
    this.#topology = topology(options.app)
    this.#publisher = new Publisher(options, (step) => this.#ensureStep(step))
  }

  /** Not `async`: the publisher's promise is returned as is (one promise per message, not two). */
  send(send: Send): Promise<void> {
    this.#start()
    const t = this.#topology
    const { envelope, target, delayMs } = send
    const routingKey = target.kind === 'type' ? envelope.type : t.retryKey(envelope.type, target.group)
    const step = delayMs > 0 ? delayStep(delayMs) : undefined
    const headers: Record<string, string | number> = step === undefined ? {} : { [DELAY_HEADER]: String(step) }
    const properties = toProperties(envelope, headers)
    if (step !== undefined) properties.expiration = String(Math.round(delayMs))
    // Returned, not awaited: a buffered message should not keep a frame of this function alive too.
    return this.#publisher.publish({
      exchange: step === undefined ? t.exchange : t.delayExchange,
      routingKey,
      content: envelope.body,
      properties,
      deadline: send.deadline,
      step,
      what: `message ${envelope.messageId} (${envelope.type})`,
    })
  }

  deadLetter(dead: DeadLetter): Promise<void> {
    this.#start()
    const properties = toProperties(dead.envelope, deadLetterHeaders(dead))
    return this.#publisher.publish({
      exchange: '',
      routingKey: this.#topology.deadLetterQueue(dead.group),
      content: dead.envelope.body,
      properties,
      deadline: dead.deadline,
      step: undefined,
      what: `dead letter ${dead.envelope.messageId} (${dead.envelope.type})`,
    })
  }

  subscribe(spec: SubscribeSpec, onDelivery: (d: Delivery) => void): Subscription {
    if (this.#stop.signal.aborted) throw new QueueClosedError('the queue is closed')
    const sub = new AmqpSubscription(spec, onDelivery, {
      topology: this.#topology,
      deliveryLimit: this.#options.deliveryLimit,
      timeout: this.#options.operationTimeout,
      reconnect: this.#options.reconnect,
      onClosed: (closed) => this.#subscriptions.delete(closed),
    })
    this.#subscriptions.add(sub)
    const connection = this.#connection
    if (connection !== undefined) void sub.attach(connection)
    this.#start()
    return sub
  }

  health(): TransportHealth {
    return {
      connected: this.#connection !== undefined,
      blocked: this.#publisher.blocked,
      buffered: this.#publisher.buffered,
      bufferedBytes: this.#publisher.bufferedBytes,
      inFlight: this.#publisher.inFlight,
    }
  }

  async stats(): Promise<GroupStats[]> {
    const connection = this.#connection
    if (connection === undefined) return []
    const timeout = this.#options.operationTimeout
    // A channel of its own: a passive declare of a missing queue (404) closes the channel it runs on.
    const ch = await withTimeout(connection.createChannel(), timeout, 'channel.open')
    ch.on('error', () => undefined)
    const out: GroupStats[] = []
    try {
      for (const sub of this.#subscriptions) {
        if (!sub.attached) continue
        const { type, group } = sub.spec
        const reply = await withTimeout(ch.checkQueue(this.#topology.groupQueue(type, group)), timeout, 'queue.declare (passive)')
        out.push({ type, group, messages: reply.messageCount, consumers: reply.consumerCount })
      }
    } finally {
      ch.close().catch(() => undefined)
    }
    return out
  }

  async close(deadline: number): Promise<void> {
    await this.#publisher.close(deadline)
    this.#stop.abort()
    await Promise.all([...this.#subscriptions].map(async (s) => s.close()))
    this.#subscriptions.clear()
    const connection = this.#current
    if (connection !== undefined) await withTimeout(connection.close(), this.#options.operationTimeout, 'connection.close').catch(() => undefined)
    await this.#loop
  }

  /** A method, not a getter: the loop's `await`s change it, which narrowing cannot see. */
  #isStopped(): boolean {
    return this.#stop.signal.aborted
  }

  #start(): void {
    if (this.#loop !== undefined || this.#stop.signal.aborted) return
    this.#loop = this.#run()
  }

  /** Connect, set up, wait for the connection to drop, back off, again — until closed. */
  async #run(): Promise<void> {
    let failures = 0
    while (!this.#isStopped()) {
      let connection: ChannelModel | undefined
      try {
        connection = await openConnection({ url: this.#options.url ?? '', heartbeat: this.#options.heartbeat, connectTimeout: this.#options.connectTimeout, app: this.#options.app })
        this.#current = connection
        if (this.#isStopped()) break
        const lost = watchConnection(connection, (blocked) => {
          this.#publisher.setBlocked(blocked)
        })
        // A connection lost half-way through set-up is a failed attempt, not a hang.
        const setUpFailed = lost.then((reason) => {
          throw reason instanceof Error ? reason : new Error('connection closed during set-up')
        })
        setUpFailed.catch(() => undefined)
        await Promise.race([this.#setUp(connection), setUpFailed])
        failures = 0
        emitConnectionEvent({ event: 'connected' })
        const reason = await lost
        emitConnectionEvent({ event: 'disconnected', ...describeError(reason) })
      } catch (error) {
        failures += 1
        this.#publisher.markDown()
        emitConnectionEvent({ event: 'error', ...describeError(error) })
        connection?.close().catch(() => undefined)
      }
      this.#teardown()
      if (this.#isStopped()) break
      const delayMs = backoffDelay(this.#options.reconnect, Math.max(1, failures))
      emitConnectionEvent({ event: 'reconnecting', delayMs })
      await sleep(delayMs, this.#stop.signal)
    }
    this.#teardown()
    const last = this.#current
    this.#current = undefined
    if (last !== undefined) await withTimeout(last.close(), this.#options.operationTimeout, 'connection.close').catch(() => undefined)
  }

  async #setUp(connection: ChannelModel): Promise<void> {
    const timeout = this.#options.operationTimeout
    const admin = await withTimeout(connection.createChannel(), timeout, 'channel.open')
    admin.on('error', () => undefined)
    admin.on('close', () => {
      if (this.#admin !== admin) return
      this.#admin = undefined
      // Ladder steps are declared on it: without it delayed messages would wait. Start over.
      if (this.#connection === connection) connection.close().catch(() => undefined)
    })
    this.#admin = admin
    await assertExchanges(admin, this.#topology, timeout)
    for (const step of this.#steps.keys()) await assertDelayStep(admin, this.#topology, step, timeout)
    for (const step of this.#steps.keys()) this.#steps.set(step, 'declared')
    const confirm: ConfirmChannel = await withTimeout(connection.createConfirmChannel(), timeout, 'confirm channel.open')
    confirm.on('error', () => undefined)
    confirm.on('close', () => {
      // Publishing cannot go on without it: start over on a fresh connection.
      if (this.#connection === connection) connection.close().catch(() => undefined)
    })
    this.#connection = connection
    // Consumers first, so a type's queues exist before buffered messages are routed.
    await Promise.all([...this.#subscriptions].map(async (s) => s.attach(connection)))
    this.#publisher.attach(confirm)
  }

  #teardown(): void {
    this.#connection = undefined
    this.#admin = undefined
    this.#publisher.detach()
    for (const step of this.#steps.keys()) this.#steps.set(step, 'wanted')
    for (const s of this.#subscriptions) s.detach()
  }

  /** Whether ladder step `step` is declared on this connection; starts declaring it if not. */
  #ensureStep(step: number): boolean {
    const state = this.#steps.get(step)
    if (state === 'declared') return true
    const admin = this.#admin
    if (state === 'declaring' || admin === undefined) {
      if (state === undefined) this.#steps.set(step, 'wanted')
      return false
    }
    this.#steps.set(step, 'declaring')
    assertDelayStep(admin, this.#topology, step, this.#options.operationTimeout).then(
      () => {
        this.#steps.set(step, 'declared')
        this.#publisher.flush()
      },
      (error: unknown) => {
        this.#steps.set(step, 'wanted')
        emitConnectionEvent({ event: 'error', ...describeError(error) })
        // The admin channel may be dead now: reconnecting declares everything again.
        this.#connection?.close().catch(() => undefined)
      },
    )
    return false
  }
}

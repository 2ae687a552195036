import { backoffDelay, sleep, type Warner, withTimeout } from '@scalekit/internal'
import type { Channel, ChannelModel, ConfirmChannel, GetMessage } from 'amqplib'
import {
  QueueAccessRefusedError,
  QueueClosedError,
  QueueTopologyMismatchError,
  QueueUnreachableError,
  timedOut,
} from '../../errors'
import { describeError, errorCode, errorMessage } from '../../internal/describe'
import { deferred } from '../../internal/deferred'
import { settledWithin } from '../../internal/settled'
import type { ResolvedQueueOptions } from '../../options'
import { deadLetterHeaders, fromDeadLetter, toProperties } from './codec'
import { emitConnectionEvent, openConnection, watchConnection } from './connection'
import { Publisher } from './publisher'
import { AmqpSubscription } from './subscription'
import { DELAY_HEADER, assertDelayStep, assertExchanges, assertGroup, delayStep, topology } from './topology'
import type { Topology } from './topology'
import type {
  Confirmed,
  ConnectedNodes,
  DeadLetter,
  DeadLetterRecord,
  Delivery,
  GroupStats,
  Send,
  SubscribeSpec,
  Subscription,
  Transport,
  TransportHealth,
} from '../transport'

type Role = 'consume' | 'publish'

/**
 * The RabbitMQ transport: one connection that declares the topology and consumes, and
 * `publishConnections` (1) that publish, each with one confirm channel. Each is reconnected on its
 * own with backoff and jitter; on each connection the topology is declared again (idempotently),
 * the consumers or the confirm channel re-created, and the publish outbox flushed. Given the nodes
 * of a cluster, each connection opens to the first node that answers and, once lost, to the next
 * node in turn: the backoff is waited after a lost connection and after a whole round of nodes
 * failed, not between the nodes of a round.
 */
export class AmqpTransport implements Transport {
  readonly #options: ResolvedQueueOptions
  readonly #warner: Warner
  readonly #topology: Topology
  readonly #publisher: Publisher
  readonly #subscriptions = new Set<AmqpSubscription>()
  /** Ladder steps in use; declared again on every connection. */
  readonly #steps = new Map<number, 'declared' | 'declaring' | 'wanted'>()
  readonly #stop = new AbortController()
  /** The consuming connection once set up (topology declared, consumers attached). */
  #connection: ChannelModel | undefined
  /** Resolved while the consuming side is set up: publishing connections wait for it (bounded), so queues exist before buffered messages are routed. */
  #consuming = deferred()
  #consumingReady = false
  /** Every connection opened and not closed yet, set up or not: what `close()` must close. */
  readonly #open = new Set<ChannelModel>()
  /** Publishing connections the broker is blocking (its alarms are broker-wide, but each says so on its own). */
  readonly #blocked = new Set<ChannelModel>()
  #admin: Channel | undefined
  #loops: Promise<void>[] | undefined
  /** Whether any connection to the broker ever opened: until then a failed attempt fails publishes at once, with why. */
  #reached = false
  /** The broker refused the login or the vhost: final (no more attempts), every call fails with it. */
  #fatal: QueueAccessRefusedError | undefined
  /** Why the last connection attempt failed, for `health()`; cleared once set up. */
  #lastError: { code: string; message: string } | undefined
  /** The node (`host:port`) of the consuming connection once set up. */
  #consumeNode: string | undefined
  /** The node of each publishing connection once set up, by its index. */
  readonly #publishNodes: (string | undefined)[] = []

  constructor(options: ResolvedQueueOptions, warner: Warner) {
    this.#options = options
    this.#warner = warner
    this.#topology = topology(options.app)
    this.#publisher = new Publisher(options, (step) => this.#ensureStep(step), warner)
  }

  /** Not `async`: the publisher's promise is returned as is (one promise per message, not two). */
  send(send: Send): Promise<Confirmed> {
    this.#start()
    const t = this.#topology
    const { envelope, target, delayMs } = send
    const routingKey = target.kind === 'type' ? envelope.type : t.retryKey(envelope.type, target.group)
    const step = delayMs > 0 ? delayStep(delayMs) : undefined
    const headers = step === undefined ? undefined : { [DELAY_HEADER]: String(step) }
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
      kind: 'message',
      messageId: envelope.messageId,
      type: envelope.type,
    })
  }

  deadLetter(dead: DeadLetter): Promise<Confirmed> {
    this.#start()
    const properties = toProperties(dead.envelope, deadLetterHeaders(dead), true)
    return this.#publisher.publish({
      exchange: '',
      routingKey: this.#topology.deadLetterQueue(dead.group),
      content: dead.envelope.body,
      properties,
      deadline: dead.deadline,
      step: undefined,
      kind: 'dead letter',
      messageId: dead.envelope.messageId,
      type: dead.envelope.type,
    })
  }

  subscribe(spec: SubscribeSpec, onDelivery: (d: Delivery) => void): Subscription {
    if (this.#stop.signal.aborted) throw new QueueClosedError('the queue is closed')
    const sub = new AmqpSubscription(spec, onDelivery, {
      topology: this.#topology,
      deliveryLimit: this.#options.deliveryLimit,
      timeout: this.#options.operationTimeout,
      reconnect: this.#options.reconnect,
      warner: this.#warner,
      onClosed: (closed) => this.#subscriptions.delete(closed),
    })
    this.#subscriptions.add(sub)
    if (this.#fatal !== undefined) {
      sub.fail(this.#fatal)
      return sub
    }
    const connection = this.#connection
    if (connection !== undefined) void sub.attach(connection)
    this.#start()
    return sub
  }

  health(): TransportHealth {
    const connected = this.#connection !== undefined && this.#publisher.lanes > 0
    return {
      connection: this.#stop.signal.aborted
        ? 'closed'
        : this.#fatal !== undefined
          ? 'failed'
          : connected
            ? 'connected'
            : this.#loops === undefined
              ? 'idle'
              : 'connecting',
      error: connected ? undefined : this.#lastError,
      connected,
      refusing: this.#publisher.refusing,
      blocked: this.#publisher.blocked,
      buffered: this.#publisher.buffered,
      bufferedBytes: this.#publisher.bufferedBytes,
      inFlight: this.#publisher.inFlight,
      nodes: this.#nodes(),
    }
  }

  #nodes(): ConnectedNodes {
    const publish: string[] = []
    for (const node of this.#publishNodes) if (node !== undefined) publish.push(node)
    return { consume: this.#consumeNode, publish }
  }

  async groupStats(): Promise<GroupStats[]> {
    const connection = this.#connection
    if (connection === undefined) return []
    const timeout = this.#options.operationTimeout
    // A channel of its own: a passive declare of a missing queue (404) closes the channel it runs on.
    const ch = await withTimeout(connection.createChannel(), timeout, timedOut('channel.open', timeout))
    ch.on('error', () => undefined)
    const out: GroupStats[] = []
    try {
      for (const sub of this.#subscriptions) {
        if (!sub.attached) continue
        const { type, group } = sub.spec
        const reply = await withTimeout(
          ch.checkQueue(this.#topology.groupQueue(type, group)),
          timeout,
          timedOut('queue.declare (passive)', timeout),
        )
        out.push({ type, group, messages: reply.messageCount, consumers: reply.consumerCount })
      }
    } finally {
      ch.close().catch(() => undefined)
    }
    return out
  }

  async takeDeadLetters(group: string, max: number): Promise<DeadLetterRecord[]> {
    if (this.#isStopped()) throw new QueueClosedError('the queue is closed')
    if (this.#fatal !== undefined) throw this.#fatal
    this.#start()
    const timeout = this.#options.operationTimeout
    if (this.#connection === undefined)
      await settledWithin(this.#consuming.promise, timeout, this.#stop.signal)
    const connection = this.#connection
    if (connection === undefined) throw timedOut('the broker connection', timeout)()
    // A channel of its own: a `basic.get` on a missing queue (404) closes the channel it runs on.
    const ch = await withTimeout(connection.createChannel(), timeout, timedOut('channel.open', timeout))
    ch.on('error', () => undefined)
    const queue = this.#topology.deadLetterQueue(group)
    const out: DeadLetterRecord[] = []
    try {
      let last: GetMessage | undefined
      while (out.length < max) {
        const msg = await withTimeout(
          ch.get(queue, { noAck: false }),
          timeout,
          timedOut(`basic.get ${queue}`, timeout),
        )
        if (msg === false) break
        last = msg
        out.push(fromDeadLetter(msg, group, this.#topology.groupQueue('', group)))
      }
      // Removed only once all were read: a failure half-way leaves every one of them in the queue.
      if (last !== undefined) ch.ack(last, true)
    } catch (error) {
      // No dead letter yet: the group's dead-letter queue is declared with its first consumer.
      if ((error as { code?: unknown }).code === 404) return []
      throw error
    } finally {
      await withTimeout(ch.close(), timeout, timedOut('channel.close', timeout)).catch(() => undefined)
    }
    return out
  }

  async close(deadline: number): Promise<void> {
    await this.#publisher.close(deadline)
    this.#stop.abort()
    await Promise.all([...this.#subscriptions].map(async (s) => s.close()))
    this.#subscriptions.clear()
    await Promise.all([...this.#open].map(async (c) => this.#closeConnection(c)))
    // A connection attempt may hang until connectTimeout (a host that never answers): close()
    // keeps to its own deadline; a connection that opens later is closed by its loop at once.
    await settledWithin(Promise.all(this.#loops ?? []), Math.max(0, deadline - Date.now()))
  }

  /** A method, not a getter: the loop's `await`s change it, which narrowing cannot see. */
  #isStopped(): boolean {
    return this.#stop.signal.aborted
  }

  /** Whether the broker refused the login or vhost (a method: `#fail` changes it across `await`s). */
  #isFailed(): boolean {
    return this.#fatal !== undefined
  }

  #start(): void {
    if (this.#loops !== undefined || this.#stop.signal.aborted) return
    const publishing = Array.from({ length: this.#options.publishConnections }, async (_, i) => {
      let confirms: ConfirmChannel[] = []
      await this.#keep(
        'publish',
        async (connection) => {
          confirms = await this.#setUpPublishing(connection)
        },
        (connection) => {
          this.#blocked.delete(connection)
          this.#publisher.setBlocked(this.#blocked.size > 0)
          for (const confirm of confirms) this.#publisher.detach(confirm)
          confirms = []
        },
        (node) => {
          this.#publishNodes[i] = node
        },
      )
    })
    this.#loops = [
      this.#keep(
        'consume',
        async (connection) => this.#setUpConsuming(connection),
        () => {
          this.#teardownConsuming()
        },
        (node) => {
          this.#consumeNode = node
        },
      ),
      ...publishing,
    ]
  }

  /**
   * Keeps one connection of `role` open until closed: connect, set up, wait for it to drop, tear
   * down, back off, again — each attempt to the next node of `urls` in turn (one node: always it).
   * `onNode` is told the node (`host:port`) once set up, and `undefined` once lost.
   */
  async #keep(
    role: Role,
    setUp: (connection: ChannelModel) => Promise<void>,
    teardown: (connection: ChannelModel) => void,
    onNode: (node: string | undefined) => void,
  ): Promise<void> {
    const urls = this.#options.urls
    /** Whole rounds of nodes failed in a row: the backoff's attempt number. */
    let failures = 0
    /** Nodes failed in this round. */
    let failed = 0
    let next = 0
    while (!this.#isStopped() && !this.#isFailed()) {
      let connection: ChannelModel | undefined
      let lostBecause: unknown
      const url = urls[next] ?? urls[0] ?? ''
      next = (next + 1) % urls.length
      try {
        connection = await openConnection({
          url,
          heartbeat: this.#options.heartbeat,
          connectTimeout: this.#options.connectTimeout,
          app: `${this.#options.app} ${role}`,
        })
        this.#open.add(connection)
        if (this.#isStopped()) {
          // close() may have run while this one was opening: it is not in the set close() went through.
          await this.#closeConnection(connection)
          break
        }
        if (!this.#reached) {
          this.#reached = true
          this.#publisher.accept()
        }
        const opened = connection
        const lost = watchConnection(connection, role, (blocked) => {
          if (role !== 'publish') return
          if (blocked) this.#blocked.add(opened)
          else this.#blocked.delete(opened)
          this.#publisher.setBlocked(this.#blocked.size > 0)
        })
        // A connection lost half-way through set-up is a failed attempt, not a hang.
        await new Promise<void>((resolve, reject) => {
          setUp(opened).then(resolve, reject)
          void lost.then((reason) => {
            reject(reason instanceof Error ? reason : new Error('connection closed during set-up'))
          })
        })
        failures = 0
        failed = 0
        this.#lastError = undefined
        onNode(new URL(url).host)
        emitConnectionEvent({ event: 'connected', role })
        this.#warner.recover(`connection-${role}`, `${role} connection to the broker is back`)
        const reason = await lost
        onNode(undefined)
        lostBecause = reason ?? new Error('the connection closed')
        this.#lastError = { code: errorCode(lostBecause), message: errorMessage(lostBecause) }
        emitConnectionEvent({ event: 'disconnected', role, ...describeError(reason) })
        if (!this.#isStopped()) this.#warnLost(role, reason)
      } catch (error) {
        onNode(undefined)
        failed += 1
        this.#lastError = { code: errorCode(error), message: errorMessage(error) }
        if (role === 'publish') this.#publisher.markDown(error)
        emitConnectionEvent({ event: 'error', role, ...describeError(error) })
        if (error instanceof QueueAccessRefusedError) this.#fail(error)
        else if (error instanceof QueueUnreachableError && !this.#reached && failed >= urls.length)
          this.#refuseUntilReached(error)
        // Warned once a whole round failed: a cluster node that is down while the next answers is not trouble.
        if (!this.#isStopped() && failed >= urls.length) this.#warnLost(role, error)
      }
      if (connection !== undefined) {
        teardown(connection)
        void this.#closeConnection(connection)
      }
      // Refusals while it is away (`whenDisconnected: 'reject'`) say why.
      if (role === 'publish' && lostBecause !== undefined) this.#publisher.markDown(lostBecause)
      if (this.#isStopped() || this.#isFailed()) break
      // A node of the round failed: the next one at once. A whole round failed: back off.
      if (lostBecause === undefined) {
        if (failed < urls.length) continue
        failed = 0
        failures += 1
      }
      const delayMs = backoffDelay(this.#options.reconnect, Math.max(1, failures))
      emitConnectionEvent({ event: 'reconnecting', role, delayMs })
      await sleep(delayMs, this.#stop.signal)
    }
  }

  /**
   * The broker refused the login or the vhost: no more attempts. Every publish (waiting or new),
   * consumer and call fails with `error`; `health()` says `failed`.
   */
  #fail(error: QueueAccessRefusedError): void {
    this.#fatal = error
    this.#publisher.refuse(error)
    for (const sub of this.#subscriptions) sub.fail(error)
  }

  /**
   * The broker was never reached: a wrong host or port is far likelier than an outage, so nothing
   * waits for it — publishes fail at once (the waiting ones too) and consumers' `ready` rejects,
   * each with why. Attempts go on; the first connection that opens ends this.
   */
  #refuseUntilReached(error: QueueUnreachableError): void {
    this.#publisher.refuse(error)
    for (const sub of this.#subscriptions) sub.fail(error)
  }

  /** One warning per episode: the connection of `role` is lost or cannot be made, and why. */
  #warnLost(role: Role, reason: unknown): void {
    const cause: unknown = (reason as { cause?: unknown } | undefined)?.cause
    const fields = {
      code: errorCode(reason ?? 'closed'),
      ...(cause === undefined ? {} : { cause: errorCode(cause) }),
      role,
      buffered: this.#publisher.buffered,
    }
    const message =
      reason instanceof QueueAccessRefusedError
        ? `${role} connection: ${reason.message}`
        : reason instanceof QueueUnreachableError && !this.#reached
          ? `${role} connection: ${reason.message}; retrying (publishes fail at once until it connects)`
          : `${role} connection to the broker lost; reconnecting (publishes are ${this.#options.buffer.whenDisconnected === 'wait' ? 'buffered' : 'refused'} meanwhile)`
    this.#warner.warn(`connection-${role}`, fields, message)
  }

  async #closeConnection(connection: ChannelModel): Promise<void> {
    if (!this.#open.delete(connection)) return
    await withTimeout(
      connection.close(),
      this.#options.operationTimeout,
      timedOut('connection.close', this.#options.operationTimeout),
    ).catch(() => undefined)
  }

  async #setUpConsuming(connection: ChannelModel): Promise<void> {
    const timeout = this.#options.operationTimeout
    const admin = await withTimeout(connection.createChannel(), timeout, timedOut('channel.open', timeout))
    admin.on('error', () => undefined)
    admin.on('close', () => {
      if (this.#admin !== admin) return
      this.#admin = undefined
      // Ladder steps are declared on it: without it delayed messages would wait. Start over.
      if (this.#connection === connection) connection.close().catch(() => undefined)
    })
    this.#admin = admin
    await assertExchanges(admin, this.#topology, timeout)
    await this.#declareGroups(connection)
    for (const step of this.#steps.keys()) await assertDelayStep(admin, this.#topology, step, timeout)
    for (const step of this.#steps.keys()) this.#steps.set(step, 'declared')
    this.#connection = connection
    await Promise.all([...this.#subscriptions].map(async (s) => s.attach(connection)))
    this.#consumingReady = true
    this.#consuming.resolve(undefined)
    // Delayed messages may have waited for their ladder step.
    this.#publisher.flush()
  }

  /**
   * The `declare` option: the group queues of the types this client publishes, declared as their
   * consumers declare them, so messages published before any consumer ran wait in them. On a
   * channel of their own (a 406 closes the channel it happens on); a queue that exists with other
   * arguments still takes the messages: warned, not fatal.
   */
  async #declareGroups(connection: ChannelModel): Promise<void> {
    const declared = this.#options.declare
    if (declared.length === 0) return
    const timeout = this.#options.operationTimeout
    const open = async (): Promise<Channel> => {
      const ch = await withTimeout(connection.createChannel(), timeout, timedOut('channel.open', timeout))
      ch.on('error', () => undefined)
      return ch
    }
    let ch = await open()
    for (const [type, group] of declared) {
      try {
        await assertGroup(ch, this.#topology, type, group, this.#options.deliveryLimit, timeout)
      } catch (error) {
        if (!(error instanceof QueueTopologyMismatchError)) throw error
        this.#warner.warn(
          `topology-mismatch:${error.resource}`,
          { code: error.code, resource: error.resource, argument: error.argument, type, group },
          `${error.message} (declare option)`,
        )
        ch = await open()
      }
    }
    await withTimeout(ch.close(), timeout, timedOut('channel.close', timeout)).catch(() => undefined)
  }

  #teardownConsuming(): void {
    this.#connection = undefined
    this.#admin = undefined
    if (this.#consumingReady) {
      this.#consumingReady = false
      this.#consuming = deferred()
    }
    for (const step of this.#steps.keys()) this.#steps.set(step, 'wanted')
    for (const s of this.#subscriptions) s.detach()
  }

  /** The confirm channels of a publishing connection, handed to the publisher once the consuming side has declared its queues (or an operation timeout passed). */
  async #setUpPublishing(connection: ChannelModel): Promise<ConfirmChannel[]> {
    const timeout = this.#options.operationTimeout
    const confirms: ConfirmChannel[] = []
    for (let i = 0; i < this.#options.publishChannels; i++) {
      const confirm: ConfirmChannel = await withTimeout(
        connection.createConfirmChannel(),
        timeout,
        timedOut('confirm channel.open', timeout),
      )
      confirm.on('error', () => undefined)
      confirm.on('close', () => {
        // Its unconfirmed messages go out again on a new connection: start this one over.
        connection.close().catch(() => undefined)
      })
      confirms.push(confirm)
    }
    // Publishing to an exchange not declared yet would close the channel (404).
    const [first] = confirms
    if (first !== undefined) await assertExchanges(first, this.#topology, timeout)
    await settledWithin(this.#consuming.promise, timeout, this.#stop.signal)
    for (const confirm of confirms) this.#publisher.attach(confirm)
    return confirms
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

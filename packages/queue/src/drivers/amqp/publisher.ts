import type { ConfirmChannel, Message, Options } from 'amqplib'
import { QueueBufferFullError, QueueClosedError, QueueDisconnectedError, QueueNackError, QueuePublishTimeoutError, QueueUnroutableError } from '../../errors'
import { deferred } from '../../internal/deferred'
import { Fifo } from '../../internal/fifo'
import type { ResolvedQueueOptions } from '../../options'
import type { Confirmed } from '../transport'

/** One message on its way: in the outbox until written, then in flight until confirmed. */
export interface Outgoing {
  readonly exchange: string
  readonly routingKey: string
  readonly content: Buffer
  readonly properties: Options.Publish
  readonly deadline: number
  /** The ladder step this message needs declared first, if delayed. */
  readonly step: number | undefined
  /** What it is, for errors. */
  readonly kind: 'message' | 'dead letter'
  readonly messageId: string
  readonly type: string
}

/** What to call a message in errors (made only when one is raised). */
function what(out: Outgoing): string {
  return `${out.kind} ${out.messageId} (${out.type})`
}

/**
 * An outgoing message with its state. A class, not a spread of the `Outgoing`: one object of a
 * fixed shape per publish (the spread copies cost measurable time and garbage at 10k+ msg/s).
 */
class Entry implements Outgoing {
  readonly exchange: string
  readonly routingKey: string
  readonly content: Buffer
  readonly properties: Options.Publish
  readonly deadline: number
  readonly step: number | undefined
  readonly kind: 'message' | 'dead letter'
  readonly messageId: string
  readonly type: string
  /** Settles `promise`; set by its executor, which runs at once. */
  resolve!: (confirmed: Confirmed) => void
  reject!: (error: Error) => void
  readonly promise: Promise<Confirmed>
  state: 'queued' | 'inflight' | 'settled' = 'queued'
  lane: Lane | undefined = undefined
  /** Neighbours in its lane's window while in flight. */
  prev: Entry | undefined = undefined
  next: Entry | undefined = undefined
  returned = false
  /** Publish order: unconfirmed messages of several lanes go back to the outbox in this order. */
  readonly seq: number

  constructor(out: Outgoing, seq: number) {
    this.seq = seq
    this.exchange = out.exchange
    this.routingKey = out.routingKey
    this.content = out.content
    this.deadline = out.deadline
    this.step = out.step
    this.kind = out.kind
    this.messageId = out.messageId
    this.type = out.type
    this.properties = out.properties
    this.promise = new Promise<Confirmed>((resolve, reject) => {
      this.resolve = resolve
      this.reject = reject
    })
  }

  get what(): string {
    return what(this)
  }
}

/**
 * A lane's unconfirmed messages in the order sent (returns are matched oldest first): a list
 * through the entries themselves. A `Set` here (an add and a delete per message) made the process
 * promote the messages of the window to the old generation at every scavenge.
 */
class Window {
  #head: Entry | undefined = undefined
  #tail: Entry | undefined = undefined
  size = 0

  push(e: Entry): void {
    e.prev = this.#tail
    e.next = undefined
    if (this.#tail === undefined) this.#head = e
    else this.#tail.next = e
    this.#tail = e
    this.size += 1
  }

  /** Unlinks `e`, which must be in this window. */
  remove(e: Entry): void {
    const { prev, next } = e
    if (prev === undefined) this.#head = next
    else prev.next = next
    if (next === undefined) this.#tail = prev
    else next.prev = prev
    e.prev = undefined
    e.next = undefined
    this.size -= 1
  }

  /** The entries, oldest first. */
  toArray(): Entry[] {
    const out: Entry[] = []
    for (let e = this.#head; e !== undefined; e = e.next) out.push(e)
    return out
  }

  clear(): void {
    for (let e = this.#head; e !== undefined; ) {
      const next = e.next
      e.prev = undefined
      e.next = undefined
      e = next
    }
    this.#head = undefined
    this.#tail = undefined
    this.size = 0
  }
}

/** One confirm channel the publisher writes to, and the messages it has not confirmed yet. */
class Lane {
  readonly channel: ConfirmChannel
  readonly inflight = new Window()
  writable = true

  constructor(channel: ConfirmChannel) {
    this.channel = channel
  }
}

/**
 * Publishes over confirm channels (one per publishing connection) with a bounded window of unconfirmed messages. While there is
 * no channel (or the broker blocks us) messages wait in a bounded outbox; when a connection is
 * lost, unconfirmed messages go back to the front of the outbox and are sent again, with the same
 * message id, on the next connection — a resend consumers can deduplicate, never a silent loss.
 */
export class Publisher {
  readonly #options: ResolvedQueueOptions
  /** Entries settled while queued (timed out) stay until they reach the front; `#queued` counts the live ones. */
  readonly #outbox = new Fifo<Entry>()
  #queued = 0
  readonly #lanes: Lane[] = []
  /** Unconfirmed messages over all lanes. */
  #inflight = 0
  #seq = 0
  /** Where the next write starts looking, so lanes take turns. */
  #turn = 0
  readonly #ensureStep: (step: number) => boolean
  #bytes = 0
  #blocked = false
  #down = false
  #closed = false
  #idle = deferred()
  #sweeper: NodeJS.Timeout | undefined

  /** `ensureStep(step)` says whether the ladder step is declared, and starts declaring it if not. */
  constructor(options: ResolvedQueueOptions, ensureStep: (step: number) => boolean) {
    this.#options = options
    this.#ensureStep = ensureStep
  }

  get buffered(): number {
    return this.#queued
  }

  get bufferedBytes(): number {
    return this.#bytes
  }

  get inFlight(): number {
    return this.#inflight
  }

  /** Confirm channels attached now. */
  get lanes(): number {
    return this.#lanes.length
  }

  get blocked(): boolean {
    return this.#blocked
  }

  /**
   * Resolves once the broker confirmed the message; rejects with a coded error otherwise. Not
   * `async`: refusals are returned as rejected promises, and an accepted message costs one
   * promise, not two.
   */
  publish(out: Outgoing): Promise<Confirmed> {
    if (this.#closed) return Promise.reject(new QueueClosedError('the queue is closed'))
    const policy = this.#options.buffer.whenDisconnected
    if (policy === 'reject' && (this.#down || this.#blocked)) {
      return Promise.reject(
        new QueueDisconnectedError(`${what(out)}: the broker is ${this.#blocked ? 'blocking publishes' : 'unreachable'} and buffer.whenDisconnected is 'reject'`),
      )
    }
    const { maxMessages, maxBytes } = this.#options.buffer
    if (this.#queued >= maxMessages || this.#bytes + out.content.length > maxBytes) {
      return Promise.reject(
        new QueueBufferFullError(`${what(out)}: the publish buffer is full (${this.#queued}/${maxMessages} messages, ${this.#bytes}/${maxBytes} bytes)`),
      )
    }
    const entry = new Entry(out, this.#seq++)
    this.#outbox.push(entry)
    this.#queued += 1
    this.#startSweeper()
    this.#bytes += entry.content.length
    this.flush()
    return entry.promise
  }

  /** A new confirm channel is ready: send what waits. */
  attach(channel: ConfirmChannel): void {
    const lane = new Lane(channel)
    this.#lanes.push(lane)
    this.#down = false
    channel.on('return', (msg: Message) => {
      this.#onReturn(lane, msg)
    })
    channel.on('drain', () => {
      lane.writable = true
      this.flush()
    })
    this.flush()
  }

  /**
   * A channel is gone (all of them when none is named): its unconfirmed messages go back to the
   * front of the outbox, in publish order, to be sent again on a channel that lives.
   */
  detach(channel?: ConfirmChannel): void {
    const gone = channel === undefined ? this.#lanes.splice(0) : this.#lanes.filter((l) => l.channel === channel)
    if (channel !== undefined) for (const lane of gone) this.#lanes.splice(this.#lanes.indexOf(lane), 1)
    if (this.#lanes.length === 0) this.#down = true
    const back: Entry[] = []
    for (const lane of gone) {
      for (const e of lane.inflight.toArray()) if (e.state === 'inflight') back.push(e)
      this.#inflight -= lane.inflight.size
      lane.inflight.clear()
    }
    if (back.length === 0) return
    back.sort((a, b) => a.seq - b.seq)
    for (const e of back) {
      e.state = 'queued'
      e.lane = undefined
      e.returned = false
      this.#bytes += e.content.length
    }
    this.#queued += back.length
    this.#outbox.unshiftAll(back)
    this.flush()
  }

  /** Connection-level `blocked` / `unblocked`. */
  setBlocked(blocked: boolean): void {
    this.#blocked = blocked
    if (!blocked) this.flush()
  }

  /** A connection attempt failed: with no channel left and the `reject` policy, new publishes fail at once. */
  markDown(): void {
    if (this.#lanes.length === 0) this.#down = true
  }

  /** Writes from the outbox while the window and some lane's socket have room, lanes in turn. */
  flush(): void {
    while (!this.#blocked && this.#inflight < this.#options.maxInFlight && this.#lanes.length > 0) {
      const e = this.#outbox.peek()
      if (e === undefined) break
      if (e.state === 'settled') {
        this.#outbox.shift()
        continue
      }
      if (e.step !== undefined && !this.#ensureStep(e.step)) break
      // Chosen only once there is something to send, so lanes take strict turns.
      const lane = this.#nextLane()
      if (lane === undefined) break
      this.#outbox.shift()
      this.#queued -= 1
      this.#bytes -= e.content.length
      e.state = 'inflight'
      e.lane = lane
      lane.inflight.push(e)
      this.#inflight += 1
      try {
        lane.writable = lane.channel.publish(e.exchange, e.routingKey, e.content, e.properties, (err: unknown) => {
          this.#onConfirm(e, lane, err)
        })
      } catch {
        // The channel closed under us; detach() will put the message back.
        lane.writable = false
        break
      }
    }
  }

  /** The next writable lane after the last one used. */
  #nextLane(): Lane | undefined {
    const lanes = this.#lanes
    for (let i = 0; i < lanes.length; i++) {
      const lane = lanes[(this.#turn + i) % lanes.length]
      if (lane?.writable === true) {
        this.#turn = (this.#turn + i + 1) % lanes.length
        return lane
      }
    }
    return undefined
  }

  /** Waits until nothing is pending or `deadline`, then rejects what is left with `ERR_QUEUE_CLOSED`. */
  async close(deadline: number): Promise<void> {
    this.#closed = true
    if (this.#queued + this.#inflight > 0) {
      let timer: NodeJS.Timeout | undefined
      await Promise.race([this.#idle.promise, new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))))])
      clearTimeout(timer)
    }
    for (const e of [...this.#outbox.toArray(), ...this.#unconfirmed()]) this.#settle(e, new QueueClosedError(`${e.what}: the queue closed before it was confirmed`))
  }

  /**
   * One timer for all deadlines (not one per message): every `publishTimeout / 10` ms (10-1000 ms)
   * while anything is pending, expired messages are rejected with `ERR_QUEUE_PUBLISH_TIMEOUT`.
   */
  #startSweeper(): void {
    if (this.#sweeper !== undefined) return
    const every = Math.min(1_000, Math.max(10, Math.floor(this.#options.publishTimeout / 10)))
    this.#sweeper = setInterval(() => {
      const now = Date.now()
      let expired = false
      for (const e of [...this.#outbox.toArray(), ...this.#unconfirmed()]) {
        if (e.deadline > now || e.state === 'settled') continue
        expired = true
        this.#settle(e, new QueuePublishTimeoutError(`${e.what} was not confirmed within publishTimeout (${this.#options.publishTimeout} ms)`))
      }
      // Drop what expired in the buffer now, so its memory does not outlive the bound.
      if (expired) this.#outbox.filter((e) => e.state !== 'settled')
    }, every)
  }

  #unconfirmed(): Entry[] {
    return this.#lanes.flatMap((lane) => lane.inflight.toArray())
  }

  #onConfirm(e: Entry, lane: Lane, err: unknown): void {
    // A confirm from a channel we already gave up on: the message was re-queued for resending.
    if (e.state !== 'inflight' || e.lane !== lane) return
    // amqplib fails every unconfirmed publish of a closing channel: not a broker nack. The
    // connection's teardown (detach) puts the message back in the outbox to be sent again.
    if (err instanceof Error && err.message === 'channel closed') return
    if (err !== null && err !== undefined) this.#settle(e, new QueueNackError(`${e.what} was refused by the broker (negative confirm)`, { cause: err }))
    else if (e.returned) this.#settle(e, new QueueUnroutableError(`${e.what} was routed to no queue: no consumer group has declared one yet (start a consumer first)`))
    else this.#settle(e, undefined)
  }

  /**
   * The broker returns an unroutable mandatory message before confirming it, and returns a
   * channel's messages in the order they were published: the message returned is the oldest
   * unconfirmed, not yet returned one of that channel with the same exchange, routing key and
   * message id. (No per-message tag header is needed: returns are rare, a scan of the window is cheap.)
   */
  #onReturn(lane: Lane, msg: Message): void {
    const { exchange, routingKey } = msg.fields
    const id: unknown = msg.properties.messageId
    for (const e of lane.inflight.toArray()) {
      if (!e.returned && e.properties.messageId === id && e.routingKey === routingKey && e.exchange === exchange) {
        e.returned = true
        return
      }
    }
  }

  #settle(e: Entry, error: Error | undefined): void {
    if (e.state === 'settled') return
    if (e.state === 'queued') {
      // Left in the FIFO, skipped when it reaches the front.
      this.#queued -= 1
      this.#bytes -= e.content.length
    } else if (e.lane !== undefined) {
      e.lane.inflight.remove(e)
      this.#inflight -= 1
    }
    e.state = 'settled'
    e.lane = undefined
    if (error === undefined) e.resolve({ messageId: e.messageId })
    else e.reject(error)
    if (this.#queued + this.#inflight === 0) {
      this.#outbox.filter(() => false)
      clearInterval(this.#sweeper)
      this.#sweeper = undefined
      this.#idle.resolve(undefined)
      this.#idle = deferred()
    } else this.flush()
  }
}

import type { ConfirmChannel, Message, Options } from 'amqplib'
import {
  QueueBufferFullError,
  QueueClosedError,
  QueueDisconnectedError,
  QueueNackError,
  QueuePublishTimeoutError,
  QueueUnroutableError,
} from '../../errors'
import { type Deadline, DeadlineSweep, type Warner } from '@scalekit/internal'
import { deferred } from '../../internal/deferred'
import { settledWithin } from '../../internal/settled'
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

/** An error's message, for another error's. */
function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** What to call a message in errors (made only when one is raised). */
function what(out: Outgoing): string {
  return `${out.kind} ${out.messageId} (${out.type})`
}

/** A message on its way, with where it is and the promise its `publish` returned. */
class Pending {
  readonly out: Outgoing
  /** Publish order: unconfirmed messages of several lanes go back to the outbox in this order. */
  readonly seq: number
  readonly result = deferred<Confirmed>()
  state: 'queued' | 'inflight' | 'settled' = 'queued'
  lane: Lane | undefined = undefined
  /** The broker returned it (unroutable); its confirm follows. */
  returned = false
  /** Neighbours in its lane's window while in flight. */
  prev: Pending | undefined = undefined
  next: Pending | undefined = undefined

  constructor(out: Outgoing, seq: number) {
    this.out = out
    this.seq = seq
  }
}

/**
 * A lane's unconfirmed messages in the order sent (returns are matched oldest first): a list
 * through the messages themselves. With a `Set` here (an add and a delete per message) the process
 * promoted the messages of the window to the old generation at every scavenge: benchmarks/README.md
 * has the before/after.
 */
class Window {
  #head: Pending | undefined = undefined
  #tail: Pending | undefined = undefined
  size = 0

  add(e: Pending): void {
    e.prev = this.#tail
    e.next = undefined
    if (this.#tail === undefined) this.#head = e
    else this.#tail.next = e
    this.#tail = e
    this.size += 1
  }

  /** Unlinks `e`, which must be in this window. */
  delete(e: Pending): void {
    const { prev, next } = e
    if (prev === undefined) this.#head = next
    else prev.next = next
    if (next === undefined) this.#tail = prev
    else next.prev = prev
    e.prev = undefined
    e.next = undefined
    this.size -= 1
  }

  /** The messages, oldest first (a copy: settling one while going through them is safe). */
  toArray(): Pending[] {
    const out: Pending[] = []
    for (let e = this.#head; e !== undefined; e = e.next) out.push(e)
    return out
  }

  clear(): void {
    for (const e of this.toArray()) {
      e.prev = undefined
      e.next = undefined
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
 * Publishes over confirm channels (`publishChannels` on each publishing connection) with a bounded
 * window of unconfirmed messages. While there is no channel (or the broker blocks us) messages wait
 * in a bounded outbox; when a connection is lost, unconfirmed messages go back to the front of the
 * outbox and are sent again, with the same message id, on the next connection — a resend consumers
 * can deduplicate, never a silent loss.
 */
export class Publisher {
  readonly #options: ResolvedQueueOptions
  readonly #warner: Warner
  /** Messages settled while queued (timed out) stay until compacted; `#queued` counts the live ones. */
  #outbox: Pending[] = []
  #queued = 0
  readonly #lanes: Lane[] = []
  /** Unconfirmed messages over all lanes. */
  #inflight = 0
  #seq = 0
  /** Where the next write starts looking, so lanes take turns. */
  #turn = 0
  readonly #ensureStep: (step: number) => boolean
  /**
   * `publishTimeout`: ONE deadline at a time, the earliest pending message's (every message gets
   * the same timeout, so that is about the oldest one's). When it passes, every message due is
   * rejected and the next earliest is armed. A deadline per message (an entry in the sweep's `Set`
   * added and deleted per publish) made the process promote every in-flight message to the old
   * generation: benchmarks/README.md has the before/after.
   */
  readonly #deadlines = new DeadlineSweep()
  #expiry: Deadline | undefined
  #bytes = 0
  #blocked = false
  #down = false
  /** Why the last connection attempt failed, while no channel is attached: the `cause` of refusals and timeouts. */
  #lastError: unknown = undefined
  /** Set while every publish must fail at once with it: a refused login or vhost, or a broker never reached. */
  #refusal: Error | undefined = undefined
  #closed = false
  #idle = deferred()
  /** Keeps the process alive while messages wait with no channel to go to (see `#hold`). */
  #holding: NodeJS.Timeout | undefined

  /** `ensureStep(step)` says whether the ladder step is declared, and starts declaring it if not. */
  constructor(options: ResolvedQueueOptions, ensureStep: (step: number) => boolean, warner: Warner) {
    this.#options = options
    this.#ensureStep = ensureStep
    this.#warner = warner
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

  /** Whether a publish now would be refused at once (buffer full, or the `reject` policy while away). */
  get refusing(): boolean {
    const { maxMessages, maxBytes, whenDisconnected } = this.#options.buffer
    return (
      this.#refusal !== undefined ||
      this.#queued >= maxMessages ||
      this.#bytes >= maxBytes ||
      (whenDisconnected === 'reject' && (this.#down || this.#blocked))
    )
  }

  /**
   * Resolves once the broker confirmed the message; rejects with a coded error otherwise. Not
   * `async`: refusals are returned as rejected promises, and an accepted message costs one
   * promise, not two.
   */
  publish(out: Outgoing): Promise<Confirmed> {
    if (this.#closed) return Promise.reject(new QueueClosedError('the queue is closed'))
    if (this.#refusal !== undefined) return Promise.reject(this.#refusal)
    const { maxMessages, maxBytes, whenDisconnected } = this.#options.buffer
    if (whenDisconnected === 'reject' && (this.#down || this.#blocked)) {
      return Promise.reject(
        new QueueDisconnectedError(
          `${what(out)}: the broker is ${this.#blocked ? 'blocking publishes' : 'unreachable'} and buffer.whenDisconnected is 'reject'`,
          { cause: this.#blocked ? undefined : this.#lastError },
        ),
      )
    }
    if (this.#queued >= maxMessages || this.#bytes + out.content.length > maxBytes) {
      this.#warner.warn(
        'buffer-full',
        { code: 'ERR_QUEUE_BUFFER_FULL', buffered: this.#queued, bufferedBytes: this.#bytes },
        'publish buffer full: publishes are refused',
      )
      return Promise.reject(
        new QueueBufferFullError(
          `${what(out)}: the publish buffer is full (${this.#queued}/${maxMessages} messages, ${this.#bytes}/${maxBytes} bytes)`,
        ),
      )
    }
    const e = new Pending(out, this.#seq++)
    // Nothing armed means nothing was pending: this one is the earliest.
    if (this.#expiry === undefined) this.#armExpiry(out.deadline)
    this.#outbox.push(e)
    this.#queued += 1
    this.#bytes += out.content.length
    if (this.#lanes.length === 0) this.#hold()
    this.flush()
    // Only what is still waiting after the flush counts: a full window on a live connection is not trouble.
    if (this.#queued * 2 > maxMessages || this.#bytes * 2 > maxBytes) {
      this.#warner.warn(
        'buffer-filling',
        { code: 'ERR_QUEUE_BUFFER_FULL', buffered: this.#queued, bufferedBytes: this.#bytes },
        'publish buffer over half full: the broker is away or slow',
      )
    }
    return e.result.promise
  }

  /** A new confirm channel is ready: send what waits. */
  attach(channel: ConfirmChannel): void {
    const lane = new Lane(channel)
    this.#lanes.push(lane)
    this.#down = false
    this.#lastError = undefined
    this.#release()
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
    const gone =
      channel === undefined ? this.#lanes.splice(0) : this.#lanes.filter((l) => l.channel === channel)
    if (channel !== undefined) for (const lane of gone) this.#lanes.splice(this.#lanes.indexOf(lane), 1)
    if (this.#lanes.length === 0) {
      this.#down = true
      if (this.#queued + this.#inflight > 0) this.#hold()
    }
    const back = gone.flatMap((lane) => lane.inflight.toArray())
    for (const lane of gone) lane.inflight.clear()
    if (back.length === 0) return
    this.#inflight -= back.length
    back.sort((a, b) => a.seq - b.seq)
    for (const e of back) {
      e.state = 'queued'
      e.lane = undefined
      e.returned = false
      this.#bytes += e.out.content.length
    }
    this.#queued += back.length
    this.#outbox = [...back, ...this.#outbox]
    this.flush()
  }

  /** Connection-level `blocked` / `unblocked`. */
  setBlocked(blocked: boolean): void {
    this.#blocked = blocked
    if (!blocked) this.flush()
  }

  /** A connection attempt failed (`error`, the cause of later refusals): with no channel left and the `reject` policy, new publishes fail at once. */
  markDown(error: unknown): void {
    if (this.#lanes.length > 0) return
    this.#down = true
    this.#lastError = error
  }

  /**
   * Every publish fails at once with `error` until {@link accept} — those waiting now included
   * (none was written yet when the broker was never reached; a refused login is final).
   */
  refuse(error: Error): void {
    this.#refusal = error
    for (const e of [...this.#outbox, ...this.#unconfirmed()]) this.#settle(e, error)
    this.#outbox = []
  }

  /** A connection opened: publishes are taken (and buffered) again. */
  accept(): void {
    this.#refusal = undefined
  }

  /** Writes from the outbox while the window and some lane's socket have room, lanes in turn. */
  flush(): void {
    let sent = 0
    while (
      !this.#blocked &&
      this.#inflight < this.#options.maxInFlight &&
      this.#lanes.length > 0 &&
      sent < this.#outbox.length
    ) {
      const e = this.#outbox[sent]
      if (e === undefined) break
      if (e.state === 'settled') {
        sent += 1
        continue
      }
      const { out } = e
      if (out.step !== undefined && !this.#ensureStep(out.step)) break
      // Chosen only once there is something to send, so lanes take strict turns.
      const lane = this.#nextLane()
      if (lane === undefined) break
      sent += 1
      this.#queued -= 1
      this.#bytes -= out.content.length
      e.state = 'inflight'
      e.lane = lane
      lane.inflight.add(e)
      this.#inflight += 1
      try {
        lane.writable = lane.channel.publish(
          out.exchange,
          out.routingKey,
          out.content,
          out.properties,
          (err: unknown) => {
            this.#onConfirm(e, lane, err)
          },
        )
      } catch {
        // The channel closed under us; detach() will put the message back.
        lane.writable = false
        break
      }
    }
    // One splice per flush, not a shift per message (a shift moves the whole array).
    if (sent > 0) this.#outbox.splice(0, sent)
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
    if (this.#queued + this.#inflight > 0)
      await settledWithin(this.#idle.promise, Math.max(0, deadline - Date.now()))
    for (const e of [...this.#outbox, ...this.#unconfirmed()])
      this.#settle(e, new QueueClosedError(`${what(e.out)}: the queue closed before it was confirmed`))
    this.#deadlines.clear()
    this.#expiry = undefined
    this.#release()
  }

  /**
   * A socket keeps the process alive while a message is on its way; between connections nothing
   * would (the deadline sweep and the reconnect backoff never do), and a script that published and
   * then awaited would exit with its message unsent. Held only while messages wait with no channel.
   */
  #hold(): void {
    this.#holding ??= setInterval(() => undefined, 60_000)
  }

  #release(): void {
    clearInterval(this.#holding)
    this.#holding = undefined
  }

  #armExpiry(deadline: number): void {
    this.#expiry = this.#deadlines.add(Math.max(0, deadline - Date.now()), () => {
      this.#expiry = undefined
      this.#expireDue()
    })
  }

  /** Rejects every message past its `publishTimeout`, wherever it is, then arms the next earliest deadline. */
  #expireDue(): void {
    const now = Date.now()
    let next = Number.POSITIVE_INFINITY
    for (const e of [...this.#outbox, ...this.#unconfirmed()]) {
      if (e.state === 'settled') continue
      if (e.out.deadline > now) next = Math.min(next, e.out.deadline)
      else
        this.#settle(
          e,
          new QueuePublishTimeoutError(
            `${what(e.out)} was not confirmed within publishTimeout (${this.#options.publishTimeout} ms)${this.#lastError === undefined ? '' : `; the broker connection is down (${errorText(this.#lastError)})`}`,
            { cause: this.#lastError },
          ),
        )
    }
    // Drop what expired in the buffer now, so its memory does not outlive the bound.
    this.#outbox = this.#outbox.filter((p) => p.state !== 'settled')
    if (next !== Number.POSITIVE_INFINITY && this.#expiry === undefined) this.#armExpiry(next)
  }

  #unconfirmed(): Pending[] {
    return this.#lanes.flatMap((lane) => lane.inflight.toArray())
  }

  #onConfirm(e: Pending, lane: Lane, err: unknown): void {
    // A confirm from a channel we already gave up on: the message was re-queued for resending.
    if (e.state !== 'inflight' || e.lane !== lane) return
    // amqplib fails every unconfirmed publish of a closing channel: not a broker nack. The
    // connection's teardown (detach) puts the message back in the outbox to be sent again.
    if (err instanceof Error && err.message === 'channel closed') return
    if (err !== null && err !== undefined)
      this.#settle(
        e,
        new QueueNackError(`${what(e.out)} was refused by the broker (negative confirm)`, { cause: err }),
      )
    else if (e.returned)
      this.#settle(
        e,
        new QueueUnroutableError(
          `${what(e.out)} was routed to no queue: no consumer group has declared one yet (start a consumer first)`,
        ),
      )
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
      if (
        !e.returned &&
        e.out.properties.messageId === id &&
        e.out.routingKey === routingKey &&
        e.out.exchange === exchange
      ) {
        e.returned = true
        return
      }
    }
  }

  #settle(e: Pending, error: Error | undefined): void {
    if (e.state === 'settled') return
    if (e.state === 'queued') {
      // Left in the outbox, skipped when it reaches the front.
      this.#queued -= 1
      this.#bytes -= e.out.content.length
    } else if (e.lane !== undefined) {
      e.lane.inflight.delete(e)
      this.#inflight -= 1
    }
    e.state = 'settled'
    e.lane = undefined
    if (error === undefined) e.result.resolve({ messageId: e.out.messageId })
    else e.result.reject(error)
    if (this.#queued + this.#inflight === 0) {
      this.#outbox = []
      this.#expiry?.cancel()
      this.#expiry = undefined
      this.#release()
      this.#warner.recover('buffer-filling')
      this.#warner.recover('buffer-full')
      this.#idle.resolve(undefined)
      this.#idle = deferred()
    } else this.flush()
  }
}

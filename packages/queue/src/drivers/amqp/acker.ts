import type { Channel, Message } from 'amqplib'

const OPEN = 0
const ACKED = 1

/**
 * Acknowledges one channel's deliveries in batches. An ack is only recorded when the handler is
 * done with its message, and sent on the next turn of the event loop: a run of consecutive
 * acknowledged delivery tags from the oldest unsettled one goes as ONE `basic.ack` with
 * `multiple: true`; acknowledged tags behind a still-running message go one by one in the same
 * flush (never held back, so a slow handler cannot pin prefetch slots). A requeue (nack) is sent at
 * once. `flush()` must run before the channel is closed on purpose, or the broker would redeliver
 * messages already handled.
 */
export class Acker {
  readonly #ch: Channel
  /** Delivery tags not yet settled with the broker, in delivery order (a Map keeps insertion order). */
  readonly #pending = new Map<number, typeof OPEN | typeof ACKED>()
  #acked = 0
  #scheduled: NodeJS.Immediate | undefined

  constructor(ch: Channel) {
    this.#ch = ch
  }

  delivered(tag: number): void {
    this.#pending.set(tag, OPEN)
  }

  ack(tag: number): void {
    if (this.#pending.get(tag) !== OPEN) return
    this.#pending.set(tag, ACKED)
    this.#acked += 1
    this.#scheduled ??= setImmediate(() => {
      this.#scheduled = undefined
      try {
        this.flush()
      } catch {
        // The channel closed meanwhile: the broker returns those messages to the queue.
      }
    })
  }

  /** Returns the message to the queue now. */
  requeue(tag: number): void {
    if (this.#pending.get(tag) !== OPEN) return
    this.#pending.delete(tag)
    this.#ch.nack(message(tag), false, true)
  }

  /** Sends every recorded ack now. Throws if the channel is closed (the broker requeues them then). */
  flush(): void {
    if (this.#scheduled !== undefined) {
      clearImmediate(this.#scheduled)
      this.#scheduled = undefined
    }
    if (this.#acked === 0) return
    let upTo = 0
    for (const [tag, state] of this.#pending) {
      if (state !== ACKED) break
      this.#pending.delete(tag)
      this.#acked -= 1
      upTo = tag
    }
    if (upTo !== 0) this.#ch.ack(message(upTo), true)
    if (this.#acked === 0) return
    for (const [tag, state] of this.#pending) {
      if (state !== ACKED) continue
      this.#pending.delete(tag)
      this.#acked -= 1
      this.#ch.ack(message(tag), false)
    }
  }

  /** The channel is gone: nothing can be settled on it any more. */
  discard(): void {
    if (this.#scheduled !== undefined) clearImmediate(this.#scheduled)
    this.#scheduled = undefined
    this.#pending.clear()
    this.#acked = 0
  }
}

/** What amqplib's ack/nack read of a message: its delivery tag. */
function message(deliveryTag: number): Message {
  return { fields: { deliveryTag } } as Message
}

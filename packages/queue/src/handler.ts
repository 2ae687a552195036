/** What a handler learns about the message besides its payload. */
export interface MessageContext {
  readonly messageId: string
  readonly type: string
  readonly group: string
  /** 1-based attempt number; `attempt > 1` is a retry. */
  readonly attempt: number
  /** The consumer's `attempts`: after this one fails, the message is dead-lettered. */
  readonly maxAttempts: number
  /** Whether the broker delivered this copy before (a crash or lost connection interrupted a handler). */
  readonly redelivered: boolean
  readonly publishedAt: Date
  readonly correlationId: string
  readonly traceparent: string
  /** Aborts when the attempt times out or `close()` gives up waiting for it. */
  readonly signal: AbortSignal
}

/** A message handler: resolve to acknowledge; throw to retry (or dead-letter). */
export type Handler<T> = (payload: T, ctx: MessageContext) => Promise<void> | void

/**
 * One handler attempt's cancellation. The `AbortSignal` is created only if the handler reads
 * `ctx.signal`: most never do, and a controller per message is measurable at thousands a second.
 */
export class Attempt {
  #controller: AbortController | undefined
  #reason: Error | undefined
  /** Called once on abort: fails the attempt at once, whatever the handler does. */
  onAbort: ((reason: Error) => void) | undefined

  /** A method, not a getter: callers check it again after `await`s, which narrowing would hide. */
  isAborted(): boolean {
    return this.#reason !== undefined
  }

  get signal(): AbortSignal {
    this.#controller ??= new AbortController()
    if (this.#reason !== undefined && !this.#controller.signal.aborted) this.#controller.abort(this.#reason)
    return this.#controller.signal
  }

  abort(reason: Error): void {
    if (this.#reason !== undefined) return
    this.#reason = reason
    this.#controller?.abort(reason)
    this.onAbort?.(reason)
  }
}

import { createWarner, type Logger, type Warner } from '@scalekit/internal'
import { type CacheErrorEvent, type CacheLockEvent, channels } from '../channels'
import { CacheDecodeError, CacheError, CacheUnavailableError } from '../errors'

/** Publishes a lock event when someone listens. */
export function lockEvent(namespace: string, event: CacheLockEvent['event'], waitedMs?: number): void {
  if (!channels.lock.hasSubscribers) return
  const payload: CacheLockEvent = { namespace, event }
  if (waitedMs !== undefined) payload.waitedMs = waitedMs
  channels.lock.publish(payload)
}

/**
 * The code an event or a warning carries: the cache error's own, else `fallback` — a documented
 * code of the place it happened, never the bare base code `ERR_CACHE`.
 */
function codeOf(error: unknown, fallback: string): string {
  return error instanceof CacheError && error.code !== CacheError.code ? error.code : fallback
}

/** The code of a write-behind failure that is not the cache's own (the store's `write` threw, or close left entries). */
export const WRITE_BEHIND_FAILED = 'ERR_CACHE_WRITE_BEHIND'

/**
 * Where one cache reports trouble it handles by itself (an L2 failure answered without Redis, an
 * undecodable entry read as a miss, a write-behind batch given up): an event on
 * `scalekit:cache:error` each time, and a warning through the logger once per episode. Both carry
 * the namespace and the code only: messages and keys may quote user data.
 */
export class Trouble {
  readonly namespace: string
  readonly #warner: Warner

  constructor(namespace: string, logger: Logger | undefined) {
    this.namespace = namespace
    this.#warner = createWarner('cache', logger)
  }

  /** A Redis call failed; the cache answers without Redis until the breaker closes again. */
  l2(error: unknown): void {
    const code = codeOf(error, CacheUnavailableError.code)
    this.#publish('l2', code)
    const unavailable = error instanceof CacheUnavailableError
    this.#warner.warn(
      unavailable ? 'l2-unavailable' : 'l2-error',
      { namespace: this.namespace, code },
      unavailable
        ? `cache '${this.namespace}': Redis is unavailable; answering from L1 and the factory until it is back`
        : `cache '${this.namespace}': a Redis call failed (${code})`,
    )
  }

  /** The breaker over Redis opened: calls fail at once until it closes. */
  l2Down(): void {
    this.#warner.warn(
      'l2-unavailable',
      { namespace: this.namespace, code: CacheUnavailableError.code },
      `cache '${this.namespace}': Redis is unavailable (the breaker opened); answering from L1 and the factory until it is back`,
    )
  }

  /** Redis answers again (the breaker closed, or a call succeeded after Redis was lost). */
  l2Recovered(): void {
    this.#warner.recover('l2-unavailable', `cache '${this.namespace}': Redis answers again`)
  }

  /**
   * Redis became unusable before the breaker noticed: a connection failed or was lost, or a call
   * timed out. The message names what to check (host and port) and the socket error's code; an
   * event on `scalekit:cache:error` too.
   */
  l2Lost(reason: CacheUnavailableError): void {
    this.#publish('l2', reason.code)
    const cause: unknown = reason.cause
    const socket = (cause as { code?: unknown } | undefined)?.code
    this.#warner.warn(
      'l2-unavailable',
      {
        namespace: this.namespace,
        code: reason.code,
        ...(typeof socket === 'string' ? { cause: socket } : {}),
      },
      `cache '${this.namespace}': ${reason.message}; answering from L1 and the factory until it is back`,
    )
  }

  /** The invalidation bus lost its subscription: L1 entries are re-checked against Redis until it is back. */
  busDown(): void {
    this.#warner.warn(
      'bus-disconnected',
      { namespace: this.namespace, code: CacheUnavailableError.code },
      `cache '${this.namespace}': the invalidation bus is disconnected; L1 values are checked against Redis until it reconnects`,
    )
  }

  /** The bus is subscribed again. */
  busUp(): void {
    this.#warner.recover(
      'bus-disconnected',
      `cache '${this.namespace}': the invalidation bus is connected again`,
    )
  }

  /** A stored entry could not be decoded or decrypted: it was read as a miss. */
  undecodable(error: unknown): void {
    const code = codeOf(error, CacheDecodeError.code)
    this.#publish('l2', code)
    this.#warner.warn(
      'undecodable',
      { namespace: this.namespace, code },
      `cache '${this.namespace}': a stored entry could not be decoded (${code}); it was read as a miss`,
    )
  }

  /** A write-behind queue's background failure (retried, or a batch dead-lettered). */
  writeBehind(queue: string, error: unknown): void {
    const code = codeOf(error, WRITE_BEHIND_FAILED)
    this.#publish('write-behind', code)
    this.#warner.warn(
      `write-behind:${queue}`,
      { namespace: this.namespace, queue, code },
      `cache '${this.namespace}': write-behind "${queue}" failed (${code}); see its onError for details`,
    )
  }

  #publish(tier: CacheErrorEvent['tier'], code: string): void {
    if (channels.error.hasSubscribers)
      channels.error.publish({ namespace: this.namespace, tier, code } satisfies CacheErrorEvent)
  }
}

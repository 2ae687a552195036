import { withTimeout } from '@scalekit/internal'
import { type CacheBusEvent, channels } from './channels'
import type { RedisClient } from './l2/client'

/** An invalidation as it travels between instances. */
export interface BusMessage {
  /** The instance that made the change (an instance ignores its own). */
  from: string
  kind: 'set' | 'delete' | 'tags' | 'clear'
  /** The entry's new version, or the tags' invalidation time. */
  ver: number
  /** The key (set/delete) or the tags (tags). */
  key: string
  tags: readonly string[]
}

const KINDS = { s: 'set', d: 'delete', t: 'tags', c: 'clear' } as const

/** Parses `from|kind|ver|payload`; the payload (a key may hold `|`) is everything after the third bar. */
export function parseBusMessage(text: string): BusMessage | undefined {
  const a = text.indexOf('|')
  const b = text.indexOf('|', a + 1)
  const c = text.indexOf('|', b + 1)
  if (a < 0 || b < 0 || c < 0) return undefined
  const kind = KINDS[text.slice(a + 1, b) as keyof typeof KINDS] as BusMessage['kind'] | undefined
  if (kind === undefined) return undefined
  const payload = text.slice(c + 1)
  let tags: string[] = []
  if (kind === 'tags') {
    try {
      const parsed: unknown = JSON.parse(payload)
      // cjson encodes an empty Lua table as {}: treat anything but an array as no tags.
      tags = Array.isArray(parsed) ? parsed.map(String) : []
    } catch {
      return undefined
    }
  }
  return {
    from: text.slice(0, a),
    kind,
    ver: Number(text.slice(b + 1, c)),
    key: kind === 'tags' ? '' : payload,
    tags,
  }
}

/**
 * The subscriber side of the invalidation bus: a dedicated connection (a duplicate of the cache's
 * client, owned and closed by the bus). Writers publish from inside their Lua scripts, so a
 * message always follows the write it announces. `connected` is true only while subscribed: the
 * cache trusts its L1 only then, and bumps its epoch on every disconnect, because a message
 * published meanwhile is lost for good.
 */
export class Bus {
  readonly #client: RedisClient
  readonly #channel: string
  readonly #namespace: string
  readonly #onMessage: (message: BusMessage) => void
  readonly #onConnectionChange: (connected: boolean) => void
  #sub: RedisClient | undefined
  #connected = false
  #closed = false

  constructor(options: {
    client: RedisClient
    channel: string
    namespace: string
    onMessage: (message: BusMessage) => void
    onConnectionChange: (connected: boolean) => void
  }) {
    this.#client = options.client
    this.#channel = options.channel
    this.#namespace = options.namespace
    this.#onMessage = options.onMessage
    this.#onConnectionChange = options.onConnectionChange
  }

  get connected(): boolean {
    return this.#connected
  }

  /** Opens the subscriber connection; returns at once, connects in the background. */
  start(): void {
    if (this.#sub !== undefined || this.#closed) return
    const sub = this.#client.duplicate()
    this.#sub = sub
    sub.on('messageBuffer', (_channel: Buffer, message: Buffer) => {
      const parsed = parseBusMessage(message.toString())
      if (parsed === undefined) return
      this.#event('received', parsed.kind)
      this.#onMessage(parsed)
    })
    sub.on('ready', () => {
      this.#subscribe()
    })
    sub.on('close', () => {
      this.#setConnected(false)
    })
    sub.on('end', () => {
      this.#setConnected(false)
    })
    // Errors surface through 'close' and the breaker; an 'error' listener keeps them from crashing the process.
    sub.on('error', () => undefined)
    if (sub.status === 'wait') sub.connect().catch(() => undefined)
    else if (sub.status === 'ready') this.#subscribe()
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#setConnected(false)
    const sub = this.#sub
    this.#sub = undefined
    if (sub === undefined) return
    // QUIT unsubscribes cleanly; a dead Redis must not hold close() for more than a second.
    await withTimeout(sub.quit(), 1_000, () => new Error('QUIT timed out')).catch(() => undefined)
    sub.disconnect()
  }

  #subscribe(): void {
    const sub = this.#sub
    if (sub === undefined) return
    sub.subscribe(this.#channel).then(
      () => {
        if (this.#sub === sub) this.#setConnected(true)
      },
      () => {
        this.#setConnected(false)
      },
    )
  }

  #setConnected(connected: boolean): void {
    if (this.#connected === connected) return
    this.#connected = connected
    this.#event(connected ? 'connected' : 'disconnected')
    this.#onConnectionChange(connected)
  }

  #event(event: CacheBusEvent['event'], kind?: CacheBusEvent['kind']): void {
    if (channels.bus.hasSubscribers) {
      const payload: CacheBusEvent = { namespace: this.#namespace, event }
      if (kind !== undefined) payload.kind = kind
      channels.bus.publish(payload)
    }
  }
}

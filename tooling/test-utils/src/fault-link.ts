import type { Socket } from 'node:net'

/** The fault switches every link of one proxy reads, so a change applies to open connections too. */
export interface FaultState {
  latencyMs: number
  paused: boolean
  blackholed: boolean
}

/** Byte counters a proxy aggregates over its links. */
export interface ByteCounters {
  toTarget: number
  toClient: number
  discarded: number
}

interface Pending {
  /** `null` is the FIN: it is delivered in order behind the data, never before it. */
  readonly chunk: Buffer | null
  readonly due: number
}

/**
 * One direction of a link: chunks wait in order until their latency has passed and the proxy is not
 * paused, then are written; a blackhole discards them.
 */
class Pipe {
  #queue: Pending[] = []
  #timer: NodeJS.Timeout | undefined
  #lastDue = 0
  #closed = false
  readonly #to: Socket
  readonly #state: FaultState
  readonly #count: (bytes: number) => void
  readonly #discard: (bytes: number) => void

  constructor(
    to: Socket,
    state: FaultState,
    count: (bytes: number) => void,
    discard: (bytes: number) => void,
  ) {
    this.#to = to
    this.#state = state
    this.#count = count
    this.#discard = discard
  }

  push(chunk: Buffer | null): void {
    if (this.#closed) return
    if (chunk !== null && this.#state.blackholed) {
      this.#discard(chunk.length)
      return
    }
    // Never before an earlier chunk, even if latency was lowered meanwhile: TCP keeps order.
    this.#lastDue = Math.max(this.#lastDue, Date.now() + this.#state.latencyMs)
    this.#queue.push({ chunk, due: this.#lastDue })
    this.pump()
  }

  /** Forgets queued data (not the FIN), as a partition loses what was in flight. */
  discardQueued(): void {
    for (const p of this.#queue) if (p.chunk !== null) this.#discard(p.chunk.length)
    this.#queue = this.#queue.filter((p) => p.chunk === null)
  }

  /** Stops forwarding for good: the link is being torn down. */
  close(): void {
    this.#closed = true
    this.#queue = []
    clearTimeout(this.#timer)
    this.#timer = undefined
  }

  pump(): void {
    if (this.#state.paused || this.#timer !== undefined) return
    for (let head = this.#queue[0]; head !== undefined; head = this.#queue[0]) {
      const wait = head.due - Date.now()
      if (wait > 0) {
        this.#timer = setTimeout(() => {
          this.#timer = undefined
          this.pump()
        }, wait)
        return
      }
      this.#queue.shift()
      if (this.#to.destroyed) continue
      if (head.chunk === null) {
        this.#to.end()
      } else if (this.#to.writable) {
        this.#to.write(head.chunk)
        this.#count(head.chunk.length)
      }
    }
  }
}

/**
 * A client connection and its connection to the target, forwarded both ways through the faults.
 * Errors on either socket are absorbed (a reset is a fault we cause, not a crash), and a reset
 * from one side is passed on as a reset to the other.
 */
export class Link {
  readonly #client: Socket
  readonly #target: Socket
  readonly #up: Pipe
  readonly #down: Pipe
  #lostData = false

  constructor(
    client: Socket,
    target: Socket,
    state: FaultState,
    counters: ByteCounters,
    onClosed: () => void,
  ) {
    this.#client = client
    this.#target = target
    const discard = (n: number): void => {
      counters.discarded += n
      this.#lostData = true
    }
    this.#up = new Pipe(target, state, (n) => (counters.toTarget += n), discard)
    this.#down = new Pipe(client, state, (n) => (counters.toClient += n), discard)
    client.setNoDelay(true)
    target.setNoDelay(true)
    this.#wire(client, target, this.#up)
    this.#wire(target, client, this.#down)
    let open = 2
    const closed = (): void => {
      open -= 1
      if (open === 0) {
        this.#up.close()
        this.#down.close()
        onClosed()
      }
    }
    client.once('close', closed)
    target.once('close', closed)
  }

  /**
   * Whether a blackhole swallowed part of this link's stream. TCP never delivers a stream with a
   * hole: after a partition it either delivers everything or breaks the connection, so such a link
   * cannot be healed and `heal()` resets it (else a client would read one reply as another's).
   */
  get lostData(): boolean {
    return this.#lostData
  }

  pump(): void {
    this.#up.pump()
    this.#down.pump()
  }

  discardQueued(): void {
    this.#up.discardQueued()
    this.#down.discardQueued()
  }

  /** Closes both sides gracefully (FIN), as a server that closes its connections. */
  drop(): void {
    this.#up.close()
    this.#down.close()
    for (const socket of [this.#client, this.#target]) {
      socket.end()
      // A peer that never answers our FIN must not keep the link open forever.
      setTimeout(() => socket.destroy(), 1000).unref()
    }
  }

  /** Closes both sides with a TCP RST, as a crashed host or a middlebox killing the flow. */
  reset(): void {
    this.#up.close()
    this.#down.close()
    resetSocket(this.#client)
    resetSocket(this.#target)
  }

  destroy(): void {
    this.#up.close()
    this.#down.close()
    this.#client.destroy()
    this.#target.destroy()
  }

  #wire(from: Socket, to: Socket, pipe: Pipe): void {
    from.on('data', (chunk: Buffer) => {
      pipe.push(chunk)
    })
    from.on('end', () => {
      pipe.push(null)
    })
    // Reset, refused, broken pipe: an abnormal end is passed on as one (RST), never as a clean FIN.
    from.on('error', () => {
      resetSocket(to)
    })
    // Closed without a FIN (destroyed, timed out): the other side must not linger half-connected.
    from.on('close', () => {
      if (!from.readableEnded) to.destroy()
    })
  }
}

function resetSocket(socket: Socket): void {
  if (socket.destroyed) return
  try {
    socket.resetAndDestroy()
  } catch {
    socket.destroy()
  }
}

import { connect, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { Link } from './fault-link'
import type { ByteCounters, FaultState } from './fault-link'
import type { HostPort } from './service-probes'

/** Options of `startFaultProxy`. */
export interface FaultProxyOptions {
  /** Where to forward: `{ host, port }`, or a service URL such as `serviceUrls.redis`. */
  readonly target: HostPort | string
  /** The port to listen on, on 127.0.0.1. @default 0, a free port */
  readonly port?: number
}

/** What went through a proxy since it started. */
export interface FaultProxyStats {
  /** Connections accepted. */
  readonly accepted: number
  /** Bytes delivered from clients to the target. */
  readonly bytesToTarget: number
  /** Bytes delivered from the target to clients. */
  readonly bytesToClient: number
  /** Bytes a blackhole swallowed, both directions. */
  readonly bytesDiscarded: number
}

/**
 * A TCP proxy between a client and a real service whose wire a fault test controls. Each fault
 * is what the network or the server really does, so the client's own timeouts, reconnects and
 * errors are what is tested.
 */
export interface FaultProxy {
  readonly host: string
  readonly port: number
  /** Open connections. */
  readonly connections: number
  readonly stats: FaultProxyStats
  /** `serviceUrl` with its host and port replaced by the proxy's: `proxy.url(serviceUrls.pg)`. */
  url(serviceUrl: string): string
  /** Delays every chunk, both directions, by `ms` (a round trip takes at least `2 × ms`), order kept. */
  setLatency(ms: number): void
  /** Stops forwarding, connections stay open; what arrives is buffered and delivered on `resume()`. */
  pause(): void
  resume(): void
  /**
   * A network partition: data both ways is silently discarded and connections stay open, so
   * clients hang until their own timeout. A FIN still passes, so closed clients do not leak.
   * Connections that lost data are reset by `heal()`.
   */
  blackhole(): void
  /**
   * Undoes latency, pause, blackhole and refuse. A connection that lost data in a blackhole is
   * reset (RST), as TCP breaks a connection it could not deliver: a stream with a hole would pair
   * replies with the wrong requests. Idle connections survive a blackhole unharmed.
   */
  heal(): Promise<void>
  /** Ends every open connection with a FIN, as a server that closes them. */
  drop(): void
  /** Destroys every open connection with a TCP RST: clients see ECONNRESET. */
  reset(): void
  /**
   * Stops listening (`on`) so new connections get ECONNREFUSED, as from a stopped server; open
   * ones are untouched. `refuse(false)` listens again on the same port.
   */
  refuse(on?: boolean): Promise<void>
  /** Closes the listener and destroys every connection. */
  close(): Promise<void>
}

/** Default ports of the schemes our services use, for a target given as a URL without a port. */
const DEFAULT_PORTS: Readonly<Record<string, number>> = {
  'redis:': 6379,
  'rediss:': 6379,
  'postgres:': 5432,
  'postgresql:': 5432,
  'amqp:': 5672,
  'amqps:': 5671,
}

const HOST = '127.0.0.1'

/** Starts a fault proxy to `target`; resolves once it listens. */
export async function startFaultProxy(options: FaultProxyOptions): Promise<FaultProxy> {
  const proxy = new TcpFaultProxy(toHostPort(options.target))
  await proxy.listen(options.port ?? 0)
  return proxy
}

class TcpFaultProxy implements FaultProxy {
  readonly host: string = HOST
  #port = 0
  #server: Server | undefined
  #closed = false
  readonly #target: HostPort
  readonly #links = new Set<Link>()
  readonly #state: FaultState = { latencyMs: 0, paused: false, blackholed: false }
  readonly #counters: ByteCounters = { toTarget: 0, toClient: 0, discarded: 0 }
  #accepted = 0

  constructor(target: HostPort) {
    this.#target = target
  }

  get port(): number {
    return this.#port
  }

  get connections(): number {
    return this.#links.size
  }

  get stats(): FaultProxyStats {
    const { toTarget, toClient, discarded } = this.#counters
    return {
      accepted: this.#accepted,
      bytesToTarget: toTarget,
      bytesToClient: toClient,
      bytesDiscarded: discarded,
    }
  }

  url(serviceUrl: string): string {
    const url = new URL(serviceUrl)
    url.hostname = this.host
    url.port = String(this.#port)
    return url.toString()
  }

  setLatency(ms: number): void {
    this.#state.latencyMs = Math.max(0, ms)
  }

  pause(): void {
    this.#state.paused = true
  }

  resume(): void {
    this.#state.paused = false
    for (const link of this.#links) link.pump()
  }

  blackhole(): void {
    this.#state.blackholed = true
    for (const link of this.#links) link.discardQueued()
  }

  async heal(): Promise<void> {
    this.#state.latencyMs = 0
    this.#state.blackholed = false
    for (const link of this.#links) if (link.lostData) link.reset()
    this.resume()
    await this.refuse(false)
  }

  drop(): void {
    for (const link of this.#links) link.drop()
  }

  reset(): void {
    for (const link of this.#links) link.reset()
  }

  async refuse(on = true): Promise<void> {
    if (this.#closed) return
    if (on) await this.#unlisten()
    else if (this.#server === undefined) await this.listen(this.#port)
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const link of this.#links) link.destroy()
    await this.#unlisten()
  }

  /** Listens with a fresh server: a closed `net.Server` is not reused. */
  async listen(port: number): Promise<void> {
    const server = createServer({ allowHalfOpen: true }, (client) => {
      this.#accept(client)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, HOST, () => {
        server.off('error', reject)
        resolve()
      })
    })
    server.on('error', () => undefined)
    const address = server.address()
    this.#port = typeof address === 'object' && address !== null ? address.port : port
    this.#server = server
  }

  async #unlisten(): Promise<void> {
    const server = this.#server
    if (server === undefined) return
    this.#server = undefined
    // close() stops accepting at once; its callback waits for connections, which we do not.
    await new Promise<void>((resolve) => {
      server.close(() => {
        resolve()
      })
      setImmediate(resolve)
    })
  }

  #accept(client: Socket): void {
    this.#accepted += 1
    client.on('error', () => undefined)
    if (this.#closed) {
      client.destroy()
      return
    }
    const target = connect({ host: this.#target.host, port: this.#target.port, allowHalfOpen: true })
    target.on('error', () => undefined)
    const link = new Link(client, target, this.#state, this.#counters, () => this.#links.delete(link))
    this.#links.add(link)
  }
}

function toHostPort(target: HostPort | string): HostPort {
  if (typeof target !== 'string') return target
  const url = new URL(target)
  const port = url.port === '' ? DEFAULT_PORTS[url.protocol] : Number(url.port)
  if (port === undefined) throw new Error(`Fault proxy target ${target} has no port`)
  return { host: url.hostname === '' ? HOST : url.hostname, port }
}

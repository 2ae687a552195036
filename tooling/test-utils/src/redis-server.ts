import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { killOnExit } from './child-cleanup'
import { freePort } from './free-port'
import { Redis } from 'ioredis'
import { sleep } from './wait-for'

/** Options of `startRedisServer`. */
export interface RedisServerOptions {
  /** @default a free port, found at start */
  readonly port?: number
  /** Extra `redis-server` arguments, e.g. `['--maxmemory', '1mb']`. @default [] */
  readonly args?: readonly string[]
  /** How long to wait for the first PONG. @default 10000 */
  readonly startTimeoutMs?: number
}

/**
 * A private `redis-server` child that a fault test may stop, kill and restart without touching the
 * shared Redis other test files use. No persistence: a restart starts empty, like a lost cache node.
 */
export interface RedisServer {
  readonly port: number
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** Whether the child is running (started and not exited). */
  readonly running: boolean
  /** What the server logged, for a failing test's message. */
  readonly log: string
  /** Graceful shutdown (SIGTERM: no save, clients disconnected); resolves once it has exited. */
  stop(): Promise<void>
  /** SIGKILL, as a crash or OOM kill; resolves once it has exited. */
  kill(): Promise<void>
  /** Stops it if running, then starts it again on the same port and waits for PONG. */
  restart(): Promise<void>
  /** Stops it for good and removes its working directory. */
  close(): Promise<void>
}

/**
 * Starts a private `redis-server` on 127.0.0.1 and resolves once it answers PING. The child is
 * SIGKILLed if the test process exits first.
 */
export async function startRedisServer(options: RedisServerOptions = {}): Promise<RedisServer> {
  const dir = await mkdtemp(join(tmpdir(), 'scalekit-redis-'))
  const server = new ChildRedisServer(dir, options.args ?? [], options.startTimeoutMs ?? 10_000)
  try {
    await server.start(options.port)
  } catch (error) {
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  return server
}

/** Attempts at a fresh port when the one picked was taken in between (another process raced us). */
const PORT_ATTEMPTS = 5

class ChildRedisServer implements RedisServer {
  #port = 0
  #child: ChildProcess | undefined
  #log = ''
  readonly #dir: string
  readonly #args: readonly string[]
  readonly #startTimeoutMs: number

  constructor(dir: string, args: readonly string[], startTimeoutMs: number) {
    this.#dir = dir
    this.#args = args
    this.#startTimeoutMs = startTimeoutMs
  }

  get port(): number {
    return this.#port
  }

  get url(): string {
    return `redis://127.0.0.1:${this.#port}`
  }

  get running(): boolean {
    return this.#child !== undefined
  }

  get log(): string {
    return this.#log
  }

  /** Starts on `port`, or on a free port, retrying on a fresh one if it was taken meanwhile. */
  async start(port?: number): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      this.#port = port ?? (await freePort())
      try {
        await this.#startOnce()
        return
      } catch (error) {
        const taken = /address already in use/i.test(this.#log)
        if (!taken || attempt >= PORT_ATTEMPTS) throw error
        if (port !== undefined) await sleep(100)
      }
    }
  }

  async stop(): Promise<void> {
    await this.#terminate('SIGTERM')
  }

  async kill(): Promise<void> {
    await this.#terminate('SIGKILL')
  }

  async restart(): Promise<void> {
    await this.stop()
    await this.start(this.#port)
  }

  async close(): Promise<void> {
    await this.stop()
    await rm(this.#dir, { recursive: true, force: true })
  }

  async #startOnce(): Promise<void> {
    this.#log = ''
    const args = ['--port', String(this.#port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
    args.push('--daemonize', 'no', '--dir', this.#dir, '--logfile', '', ...this.#args)
    const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
    killOnExit(child)
    this.#child = child
    const append = (text: string): void => {
      this.#log = (this.#log + text).slice(-64 * 1024)
    }
    child.stdout.setEncoding('utf8').on('data', append)
    child.stderr.setEncoding('utf8').on('data', append)
    const exited = new Promise<string>((resolve) => {
      const gone = (reason: string): void => {
        if (this.#child === child) this.#child = undefined
        resolve(reason)
      }
      child.once('error', (error) => {
        gone(`could not be spawned: ${error.message}`)
      })
      child.once('exit', (code, signal) => {
        gone(`exited with ${signal ?? `code ${code ?? '?'}`}`)
      })
    })
    const failure = await Promise.race([exited, this.#untilPong(child)])
    if (failure === undefined) return
    await this.#terminate('SIGKILL')
    throw new Error(`redis-server on port ${this.#port} ${failure}\n--- log ---\n${this.#log.trimEnd()}`)
  }

  /** Resolves `undefined` once our child answers, or a reason after the start timeout. */
  async #untilPong(child: ChildProcess): Promise<string | undefined> {
    const deadline = Date.now() + this.#startTimeoutMs
    while (Date.now() < deadline) {
      if (this.#child !== child) return 'exited before answering PING'
      if (await answersAs(this.#port, child.pid)) return undefined
      await sleep(50)
    }
    return `did not answer PING within ${this.#startTimeoutMs} ms`
  }

  async #terminate(signal: NodeJS.Signals): Promise<void> {
    const child = this.#child
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exit = once(child, 'exit')
    child.kill(signal)
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000)
    try {
      await exit
    } finally {
      clearTimeout(timer)
    }
  }
}

/**
 * Whether the Redis on `port` is the process `pid`: a PONG alone could come from another server
 * that holds the port while our child is failing to bind it.
 */
async function answersAs(port: number, pid: number | undefined): Promise<boolean> {
  const redis = new Redis({
    host: '127.0.0.1',
    port,
    lazyConnect: true,
    connectTimeout: 500,
    commandTimeout: 500,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  })
  redis.on('error', () => undefined)
  try {
    await redis.connect()
    const info = await redis.info('server')
    return pid !== undefined && new RegExp(`^process_id:${pid}\\r?$`, 'm').test(info)
  } catch {
    return false
  } finally {
    redis.disconnect()
  }
}

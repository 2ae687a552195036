import type { Server } from 'node:http'
import { performance } from 'node:perf_hooks'
import {
  createChecks,
  createWarner,
  type Duration,
  type Logger,
  sleep,
  withTimeout,
} from '@scalekit/internal'
import { ObservabilityArgumentError, ObservabilityError, ObservabilityOptionsError } from '../errors'
import type { Health } from './health'

/** The steps of a shutdown, in the order they run. */
export type ShutdownPhase = 'not-ready' | 'wait' | 'servers' | 'drain' | 'flush' | 'close'

/** What a phase stops: a scalekit object (`close({ timeout })`), a Node or Fastify server, or a function of the time left. */
export type ShutdownTarget =
  | { close(options?: { timeout?: Duration }): Promise<void> }
  | Server
  | ((remainingMs: number) => Promise<void> | void)

/** Options of {@link createShutdown}. */
export interface ShutdownOptions {
  /** Marked not accepting first, so `/readyz` answers 503 while the instance drains. @default none */
  health?: Health
  /** How long to keep serving after readiness flips, for the load balancer to notice. @default '5s' */
  readinessDelay?: Duration
  /** The deadline of the whole sequence (Kubernetes' `terminationGracePeriodSeconds` less a margin). @default '25s' */
  timeout?: Duration
  /** Signals that start the shutdown. @default ['SIGTERM', 'SIGINT'] */
  signals?: readonly NodeJS.Signals[]
  /** Call `process.exit()` when done (code 1 if a step failed). @default true */
  exit?: boolean
  /** Where each step and failure is logged (pino's shape). @default Node's process warnings for failures */
  logger?: Logger
}

/** The defaults of {@link ShutdownOptions}. */
export const shutdownDefaults: {
  readonly readinessDelay: '5s'
  readonly timeout: '25s'
  readonly signals: readonly NodeJS.Signals[]
  readonly exit: true
} = { readinessDelay: '5s', timeout: '25s', signals: ['SIGTERM', 'SIGINT'], exit: true }

/** One step of a finished shutdown. */
export interface ShutdownStep {
  readonly phase: ShutdownPhase
  readonly name: string
  readonly durationMs: number
  /** The error's code when the step failed or ran out of time. */
  readonly error?: string
}

/** What a shutdown did. */
export interface ShutdownReport {
  readonly reason: string
  readonly steps: readonly ShutdownStep[]
  readonly ok: boolean
}

/**
 * The graceful shutdown of an instance: on SIGTERM, mark not ready, wait for the load balancer to
 * notice, stop accepting and finish in-flight requests, drain queue consumers, flush write-behind,
 * close pools and clients — in that order, within one deadline, each step given the time left.
 */
export interface Shutdown {
  /** Stop accepting connections and finish in-flight requests (Node `http.Server`, or `{ close }` of a Fastify app). */
  server(target: ShutdownTarget, name?: string): void
  /** Stop consuming and finish in-flight messages (queue consumers or the queue). */
  drain(target: ShutdownTarget, name?: string): void
  /** Write buffered work out (a cache with write-behind). */
  flush(target: ShutdownTarget, name?: string): void
  /** Release connections (db router, cache, queue clients, pools). */
  close(target: ShutdownTarget, name?: string): void
  /** Runs the sequence now (the signals call this); a second call returns the first call's promise. */
  shutdown(reason?: string): Promise<ShutdownReport>
  /** `running`, `shutting-down` or `done`. */
  readonly state: 'running' | 'shutting-down' | 'done'
  /** Removes the signal handlers (the sequence is not run). */
  dispose(): void
}

type StepPhase = 'servers' | 'drain' | 'flush' | 'close'
const checks = createChecks(ObservabilityOptionsError)

function isServer(target: unknown): target is Server {
  return (
    typeof target === 'object' &&
    target !== null &&
    typeof (target as Server).close === 'function' &&
    typeof (target as Server).listen === 'function' &&
    typeof (target as Server).closeAllConnections === 'function'
  )
}

function stopServer(server: Server, remainingMs: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      // Past the deadline: cut what is still open rather than hang.
      server.closeAllConnections()
    }, remainingMs)
    timer.unref()
    server.close((error) => {
      clearTimeout(timer)
      if (error !== undefined && (error as NodeJS.ErrnoException).code !== 'ERR_SERVER_NOT_RUNNING')
        reject(error)
      else resolve()
    })
    // Idle keep-alive connections would hold close() until they time out.
    server.closeIdleConnections()
  })
}

class ShutdownImpl implements Shutdown {
  state: 'running' | 'shutting-down' | 'done' = 'running'
  readonly #steps: Record<StepPhase, { target: ShutdownTarget; name: string }[]> = {
    servers: [],
    drain: [],
    flush: [],
    close: [],
  }
  readonly #health: Health | undefined
  readonly #delayMs: number
  readonly #timeoutMs: number
  readonly #exit: boolean
  readonly #logger: Logger | undefined
  readonly #warner
  readonly #signals: readonly NodeJS.Signals[]
  readonly #onSignal = (signal: NodeJS.Signals): void => {
    void this.shutdown(signal)
  }
  #running: Promise<ShutdownReport> | undefined

  constructor(options: ShutdownOptions) {
    this.#health = options.health
    this.#delayMs = checks.duration('readinessDelay', options.readinessDelay, shutdownDefaults.readinessDelay)
    this.#timeoutMs = checks.duration('timeout', options.timeout, shutdownDefaults.timeout, { min: 1 })
    this.#exit = checks.boolean('exit', options.exit, shutdownDefaults.exit)
    const signals = options.signals ?? shutdownDefaults.signals
    if (!Array.isArray(signals) || !signals.every((s) => typeof s === 'string' && s.startsWith('SIG')))
      throw new ObservabilityOptionsError("signals must be a list of signal names such as 'SIGTERM'")
    this.#signals = signals
    this.#logger = options.logger
    this.#warner = createWarner('observability', options.logger)
    for (const signal of this.#signals) process.once(signal as 'SIGTERM', this.#onSignal)
  }

  server(target: ShutdownTarget, name = 'server'): void {
    this.#add('servers', target, name)
  }

  drain(target: ShutdownTarget, name = 'drain'): void {
    this.#add('drain', target, name)
  }

  flush(target: ShutdownTarget, name = 'flush'): void {
    this.#add('flush', target, name)
  }

  close(target: ShutdownTarget, name = 'close'): void {
    this.#add('close', target, name)
  }

  dispose(): void {
    for (const signal of this.#signals) process.removeListener(signal, this.#onSignal)
  }

  shutdown(reason = 'shutdown'): Promise<ShutdownReport> {
    this.#running ??= this.#run(reason)
    return this.#running
  }

  #add(phase: StepPhase, target: ShutdownTarget, name: string): void {
    const ok =
      typeof target === 'function' ||
      (typeof target === 'object' && (target as unknown) !== null && typeof target.close === 'function')
    if (!ok)
      throw new ObservabilityArgumentError(`${phase} target ${name} must have close() or be a function`)
    if (this.state !== 'running')
      throw new ObservabilityArgumentError(`cannot add ${name}: shutdown has begun`)
    this.#steps[phase].push({ target, name })
  }

  async #run(reason: string): Promise<ShutdownReport> {
    this.state = 'shutting-down'
    this.dispose()
    const deadline = performance.now() + this.#timeoutMs
    const remaining = (): number => Math.max(0, Math.round(deadline - performance.now()))
    const steps: ShutdownStep[] = []
    this.#logger?.info?.({ reason, timeoutMs: this.#timeoutMs }, 'shutdown: started')
    this.#health?.setAccepting(false)
    steps.push({ phase: 'not-ready', name: 'readiness', durationMs: 0 })
    const waitStart = performance.now()
    await sleep(Math.min(this.#delayMs, remaining()))
    steps.push({
      phase: 'wait',
      name: 'readiness-delay',
      durationMs: Math.round(performance.now() - waitStart),
    })
    for (const phase of ['servers', 'drain', 'flush', 'close'] as const) {
      const results = await Promise.all(
        this.#steps[phase].map((step) => this.#step(phase, step, remaining())),
      )
      steps.push(...results)
    }
    const ok = steps.every((step) => step.error === undefined)
    this.state = 'done'
    this.#logger?.info?.({ reason, ok, steps }, 'shutdown: done')
    if (this.#exit) process.exit(ok ? 0 : 1)
    return { reason, steps, ok }
  }

  async #step(
    phase: StepPhase,
    { target, name }: { target: ShutdownTarget; name: string },
    remainingMs: number,
  ): Promise<ShutdownStep> {
    const start = performance.now()
    try {
      const work = isServer(target)
        ? stopServer(target, remainingMs)
        : typeof target === 'function'
          ? Promise.resolve().then(() => target(remainingMs))
          : target.close({ timeout: remainingMs })
      // Steps follow the close({ timeout }) convention; one that overruns is left behind, not awaited.
      await withTimeout(
        Promise.resolve(work),
        remainingMs + 1000,
        () => new ObservabilityError(`shutdown step ${name} overran the deadline`),
      )
      return { phase, name, durationMs: Math.round(performance.now() - start) }
    } catch (error) {
      const code =
        typeof (error as { code?: unknown }).code === 'string'
          ? (error as { code: string }).code
          : 'ERR_SHUTDOWN_STEP'
      this.#warner.warn(
        `shutdown:${name}`,
        { code, phase, step: name },
        `shutdown step ${name} (${phase}) failed`,
      )
      return { phase, name, durationMs: Math.round(performance.now() - start), error: code }
    }
  }
}

/**
 * The graceful shutdown coordinator.
 *
 * ```ts
 * const shutdown = createShutdown({ health, readinessDelay: '5s', timeout: '25s', logger })
 * shutdown.server(server)
 * shutdown.drain(queue) // consumers finish what they hold
 * shutdown.flush(cache) // write-behind reaches the database
 * shutdown.close(db)
 * ```
 */
export function createShutdown(options: ShutdownOptions = {}): Shutdown {
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    throw new ObservabilityOptionsError(`createShutdown() takes an options object, got ${typeof given}`)
  return new ShutdownImpl(options)
}

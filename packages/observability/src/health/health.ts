import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import { createChecks, type Duration, withTimeout } from '@scalekit/internal'
import {
  ObservabilityArgumentError,
  ObservabilityCheckTimeoutError,
  ObservabilityOptionsError,
} from '../errors'

/** A check's verdict: `ok`, `degraded` (serving with a fallback), `down`. */
export type CheckStatus = 'ok' | 'degraded' | 'down'

/**
 * What a readiness check is: a function (resolving is `ok`, throwing or rejecting is `down`,
 * resolving `{ status }` gives that status), or any scalekit object — its `checkHealth()` when it has
 * one (an active check of its services), else its synchronous `health()`.
 */
export type HealthCheck =
  | ((signal: AbortSignal) => unknown)
  | { checkHealth(): Promise<{ readonly status: string }> }
  | { health(): { readonly status: string } }

/** Options of one registered check. */
export interface CheckOptions {
  /** Longest wait for this check; past it the check is `down` with `ERR_OBSERVABILITY_CHECK_TIMEOUT`. @default the registry's `timeout` */
  timeout?: Duration
  /** A failing critical check makes readiness `down` (503); a non-critical one only `degraded` (200). @default true */
  critical?: boolean
}

/** One check in a report. */
export interface CheckResult {
  readonly status: CheckStatus
  readonly critical: boolean
  readonly durationMs: number
  /** Why it is not `ok`: the error's code (or name), `status:<status>` from a scalekit object. */
  readonly reason?: string
}

/** The answer of `/readyz`. */
export interface HealthReport {
  readonly status: CheckStatus
  /** False once shutdown began (readiness then answers 503 whatever the checks say). */
  readonly accepting: boolean
  readonly checks: Readonly<Record<string, CheckResult>>
}

/** Options of {@link createHealth}. */
export interface HealthOptions {
  /** Default timeout of each check. @default '2s' */
  timeout?: Duration
}

/** Liveness, readiness and the checks behind readiness. */
export interface Health {
  /** Adds (or replaces) the check `name`. */
  register(name: string, check: HealthCheck, options?: CheckOptions): void
  /** Whether readiness may answer 200: set to false by shutdown first, so the load balancer stops sending. */
  readonly accepting: boolean
  /** Marks the instance as (not) accepting traffic. */
  setAccepting(accepting: boolean): void
  /** Runs every check at once, each within its timeout. Never rejects. */
  check(): Promise<HealthReport>
  /** `/healthz`: 200 while the process answers at all (liveness never depends on other services). */
  readonly liveness: (req: IncomingMessage, res: ServerResponse) => void
  /** `/readyz`: 200 with the report when accepting and no critical check is down, else 503. */
  readonly readiness: (req: IncomingMessage, res: ServerResponse) => void
}

/** The defaults of {@link HealthOptions} and {@link CheckOptions}. */
export const healthDefaults: { readonly timeout: '2s'; readonly critical: true } = {
  timeout: '2s',
  critical: true,
}

interface Registered {
  readonly check: HealthCheck
  readonly timeoutMs: number
  readonly critical: boolean
}

const optionChecks = createChecks(ObservabilityOptionsError)
const argumentChecks = createChecks(ObservabilityArgumentError)

function codeOf(error: unknown): string {
  if (typeof error === 'object' && error !== null) {
    const code = (error as { code?: unknown }).code
    if (typeof code === 'string') return code
    const name = (error as { name?: unknown }).name
    if (typeof name === 'string') return name
  }
  return 'unknown'
}

function verdict(value: unknown): { status: CheckStatus; reason?: string } {
  const status =
    typeof value === 'object' && value !== null ? (value as { status?: unknown }).status : undefined
  if (status === undefined || status === 'ok') return { status: 'ok' }
  if (status === 'degraded') return { status: 'degraded', reason: 'status:degraded' }
  return { status: 'down', reason: `status:${typeof status === 'string' ? status : 'unknown'}` }
}

async function run(check: HealthCheck, signal: AbortSignal): Promise<unknown> {
  if (typeof check === 'function') return check(signal)
  if ('checkHealth' in check && typeof check.checkHealth === 'function') return check.checkHealth()
  return (check as { health(): unknown }).health()
}

class HealthImpl implements Health {
  readonly #checks = new Map<string, Registered>()
  readonly #timeoutMs: number
  #accepting = true

  constructor(options: HealthOptions) {
    this.#timeoutMs = optionChecks.duration('timeout', options.timeout, healthDefaults.timeout, { min: 1 })
  }

  get accepting(): boolean {
    return this.#accepting
  }

  setAccepting(accepting: boolean): void {
    this.#accepting = accepting
  }

  register(name: string, check: HealthCheck, options: CheckOptions = {}): void {
    if (typeof name !== 'string' || name.length === 0)
      throw new ObservabilityArgumentError('register(name, check) needs a name')
    const ok =
      typeof check === 'function' ||
      (typeof check === 'object' &&
        (check as unknown) !== null &&
        (typeof (check as { checkHealth?: unknown }).checkHealth === 'function' ||
          typeof (check as { health?: unknown }).health === 'function'))
    if (!ok)
      throw new ObservabilityArgumentError(
        `check ${name} must be a function or an object with checkHealth() or health()`,
      )
    const group = argumentChecks.group('options', options)
    this.#checks.set(name, {
      check,
      timeoutMs: argumentChecks.duration(`${name}.timeout`, group.timeout, this.#timeoutMs, { min: 1 }),
      critical: argumentChecks.boolean(`${name}.critical`, group.critical, healthDefaults.critical),
    })
  }

  async check(): Promise<HealthReport> {
    const entries = await Promise.all(
      [...this.#checks].map(async ([name, registered]) => [name, await this.#one(name, registered)] as const),
    )
    const checks = Object.fromEntries(entries)
    let status: CheckStatus = 'ok'
    for (const [, result] of entries) {
      if (result.status === 'ok') continue
      if (result.status === 'down' && result.critical) status = 'down'
      else if (status === 'ok') status = 'degraded'
    }
    return { status, accepting: this.#accepting, checks }
  }

  async #one(name: string, registered: Registered): Promise<CheckResult> {
    const start = performance.now()
    const controller = new AbortController()
    const base = { critical: registered.critical }
    try {
      const value = await withTimeout(
        Promise.resolve().then(() => run(registered.check, controller.signal)),
        registered.timeoutMs,
        () =>
          new ObservabilityCheckTimeoutError(
            `check ${name} did not answer within ${registered.timeoutMs} ms`,
          ),
      )
      return { ...base, ...verdict(value), durationMs: Math.round(performance.now() - start) }
    } catch (error) {
      controller.abort()
      return {
        ...base,
        status: 'down',
        reason: codeOf(error),
        durationMs: Math.round(performance.now() - start),
      }
    }
  }

  readonly liveness = (_req: IncomingMessage, res: ServerResponse): void => {
    res.statusCode = 200
    res.setHeader('content-type', 'application/json')
    res.setHeader('cache-control', 'no-store')
    res.end('{"status":"ok"}')
  }

  readonly readiness = (_req: IncomingMessage, res: ServerResponse): void => {
    void this.check().then((report) => {
      res.statusCode = readinessStatus(report)
      res.setHeader('content-type', 'application/json')
      res.setHeader('cache-control', 'no-store')
      res.end(JSON.stringify(report))
    })
  }
}

/** The HTTP status of a readiness report: 503 when not accepting or a critical check is down. */
export function readinessStatus(report: HealthReport): number {
  return report.accepting && report.status !== 'down' ? 200 : 503
}

/**
 * Liveness and readiness for a load balancer or Kubernetes probes.
 *
 * ```ts
 * const health = createHealth({ timeout: '2s' })
 * health.register('cache', cache) // its checkHealth(): Redis answers
 * health.register('db', db) // the primary answers
 * health.register('queue', () => queue.health(), { critical: false })
 * ```
 */
export function createHealth(options: HealthOptions = {}): Health {
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    throw new ObservabilityOptionsError(`createHealth() takes an options object, got ${typeof given}`)
  return new HealthImpl(options)
}

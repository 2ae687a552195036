import { CacheOptionsError } from '../errors'
import type { WriteBehindDeps, WriteBehindEntry, WriteBehindOptions } from './types'

/** The defaults of {@link WriteBehindOptions}, in one place. */
export const writeBehindDefaults: {
  readonly batchSize: number
  readonly flushInterval: number
  readonly maxAttempts: number
  readonly backoffInitial: number
  readonly backoffMax: number
  readonly leaseMs: number
  readonly closeDeadlineMs: number
} = Object.freeze({
  /** Large enough to amortise a round trip to the store, small enough for one statement. */
  batchSize: 100,
  /** Bounds how stale the store of record can be under a light load. */
  flushInterval: 100,
  /** Rides out a short store outage (~1.5 s of backoff by default) before giving up on a batch. */
  maxAttempts: 5,
  backoffInitial: 100,
  backoffMax: 10_000,
  /** A crashed leader is replaced within seconds, yet a GC pause does not cost the lease. */
  leaseMs: 5000,
  /** Long enough to flush a backlog, short enough for a shutdown grace period. */
  closeDeadlineMs: 10_000,
})

/** Options with every default applied. */
export interface ResolvedOptions<T> {
  readonly name: string
  readonly write: (batch: readonly WriteBehindEntry<T>[]) => Promise<void>
  readonly batchSize: number
  readonly flushInterval: number
  readonly maxAttempts: number
  readonly backoff: { readonly initial: number; readonly max: number }
  readonly leaseMs: number
}

/** Applies the defaults and validates options and deps once, at construction. */
export function resolveOptions<T>(options: WriteBehindOptions<T>, deps: WriteBehindDeps): ResolvedOptions<T> {
  // Typed callers cannot get these wrong, JavaScript callers can: check the values as unknown.
  const raw: Record<string, unknown> = { ...options }
  if (typeof raw.name !== 'string' || raw.name === '') fail('name must be a non-empty string')
  if (typeof raw.write !== 'function') fail('write must be a function')
  const { name, write } = options
  const batchSize = integer('batchSize', options.batchSize ?? writeBehindDefaults.batchSize, 1)
  const flushInterval = duration('flushInterval', options.flushInterval ?? writeBehindDefaults.flushInterval)
  const maxAttempts = integer('maxAttempts', options.maxAttempts ?? writeBehindDefaults.maxAttempts, 1)
  const initial = duration('backoff.initial', options.backoff?.initial ?? writeBehindDefaults.backoffInitial)
  const max = duration('backoff.max', options.backoff?.max ?? Math.max(writeBehindDefaults.backoffMax, initial))
  if (max < initial) fail(`backoff.max (${max}) must not be below backoff.initial (${initial})`)
  // Renewed every third of the lease: below ~30 ms the timers alone would eat it.
  const leaseMs = integer('leaseMs', options.leaseMs ?? writeBehindDefaults.leaseMs, 30)
  validateDeps(deps)
  return { name, write, batchSize, flushInterval, maxAttempts, backoff: { initial, max }, leaseMs }
}

function validateDeps(deps: WriteBehindDeps): void {
  const raw: Record<string, unknown> = { ...deps }
  if (typeof raw.namespace !== 'string') fail('deps.namespace must be a string')
  if (typeof raw.keyPrefix !== 'string' || raw.keyPrefix === '') fail('deps.keyPrefix must be a non-empty string')
  const codec = raw.codec as Partial<Record<'encode' | 'decode', unknown>> | undefined
  if (typeof codec?.encode !== 'function' || typeof codec.decode !== 'function') fail('deps.codec must have encode() and decode()')
  const timeoutMs = raw.timeoutMs
  if (typeof timeoutMs !== 'number' || !Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    fail(`deps.timeoutMs must be a positive number of ms, got ${String(timeoutMs)}`)
  }
}

function integer(option: string, value: unknown, min: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    fail(`${option} must be an integer >= ${min}, got ${String(value)}`)
  }
  return value
}

function duration(option: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    fail(`${option} must be a non-negative number of ms, got ${String(value)}`)
  }
  return value
}

function fail(message: string): never {
  throw new CacheOptionsError(`write-behind: ${message}`)
}

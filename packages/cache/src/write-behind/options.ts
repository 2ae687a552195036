import { type Backoff, type Checks, createChecks } from '@scalekit/internal'
import { CacheOptionsError } from '../errors'
import type { WriteBehindStore } from './store'
import type { WriteBehindEntry, WriteBehindOptions } from './types'

/** The defaults of {@link WriteBehindOptions}, in one place (durations in ms). */
export const writeBehindDefaults: {
  readonly batchSize: number
  readonly flushInterval: number
  readonly maxAttempts: number
  readonly backoff: Backoff
  readonly lease: number
  readonly maxDeadLetters: number
  readonly deadLetterMaxAge: number
} = Object.freeze({
  /** Large enough to amortise a round trip to the store, small enough for one statement. */
  batchSize: 100,
  /** Bounds how stale the store of record can be under a light load. */
  flushInterval: 100,
  /** Rides out a short store outage (~1.5 s of backoff by default) before giving up on a batch. */
  maxAttempts: 5,
  /** Exponential with full jitter, capped at 10 s so a long outage does not push retries out for minutes. */
  backoff: Object.freeze({ initial: 100, factor: 2, max: 10_000, jitter: 1 }),
  /** A crashed leader is replaced within seconds, yet a GC pause does not cost the lease. */
  lease: 5000,
  /** Like memory mode's limit: a store that fails for days cannot fill Redis. */
  maxDeadLetters: 10_000,
  /** A week to look at and replay what failed. */
  deadLetterMaxAge: 7 * 86_400_000,
})

/** Options with every default applied. */
export interface ResolvedOptions<T> {
  readonly name: string
  readonly write: (batch: readonly WriteBehindEntry<T>[]) => Promise<void>
  readonly batchSize: number
  readonly flushInterval: number
  readonly maxAttempts: number
  readonly backoff: Backoff
  readonly lease: number
  readonly maxDeadLetters: number
  readonly deadLetterMaxAge: number
  readonly store: WriteBehindStore | undefined
  readonly onError: ((error: Error) => void) | undefined
}

const check: Checks = createChecks(CacheOptionsError)

/** Applies the defaults and validates the options once, at construction; throws `CacheOptionsError` naming the option. */
export function resolveOptions<T>(options: WriteBehindOptions<T>): ResolvedOptions<T> {
  // Typed callers cannot get these wrong, JavaScript callers can: check the values as unknown.
  const o = check.group('write-behind options', options)
  const { name, write, store, onError } = o
  if (typeof name !== 'string' || !/^[\w.-]{1,64}$/.test(name)) {
    check.fail(`write-behind: name must be 1-64 characters of [A-Za-z0-9_.-], got ${JSON.stringify(name)}`)
  }
  if (typeof write !== 'function') check.fail('write-behind: write must be a function')
  if (onError !== undefined && typeof onError !== 'function')
    check.fail('write-behind: onError must be a function')
  const methods: readonly (keyof WriteBehindStore)[] = [
    'append',
    'begin',
    'take',
    'ack',
    'deadLetter',
    'mark',
    'drained',
    'wake',
    'deadLetters',
    'size',
    'close',
  ]
  if (
    store !== undefined &&
    methods.some((m) => typeof (store as unknown as Partial<Record<string, unknown>>)[m] !== 'function')
  ) {
    check.fail(`write-behind: store must implement ${methods.join(', ')}`)
  }
  const backoff = check.group('backoff', o.backoff)
  return {
    name,
    write,
    batchSize: check.integer('batchSize', o.batchSize, writeBehindDefaults.batchSize, { min: 1 }),
    flushInterval: check.duration('flushInterval', o.flushInterval, writeBehindDefaults.flushInterval),
    maxAttempts: check.integer('maxAttempts', o.maxAttempts, writeBehindDefaults.maxAttempts, { min: 1 }),
    // A user's initial above the default max raises the max with it, rather than failing.
    backoff: check.backoff('backoff', backoff, {
      ...writeBehindDefaults.backoff,
      max: Math.max(
        writeBehindDefaults.backoff.max,
        check.duration('backoff.initial', backoff.initial, writeBehindDefaults.backoff.initial),
      ),
    }),
    // Renewed every third of the lease: below ~30 ms the timers alone would eat it.
    lease: check.duration('lease', o.lease, writeBehindDefaults.lease, { min: 30 }),
    maxDeadLetters: check.integer('maxDeadLetters', o.maxDeadLetters, writeBehindDefaults.maxDeadLetters, {
      min: 1,
    }),
    deadLetterMaxAge: check.duration(
      'deadLetterMaxAge',
      o.deadLetterMaxAge,
      writeBehindDefaults.deadLetterMaxAge,
      {
        min: 1,
      },
    ),
    store,
    onError,
  }
}

import type { Backoff } from './backoff'
import { describeValue } from './describe'
import { type Duration, MAX_DURATION_MS, parseDuration } from './duration'
import type { ErrorClass } from './errors'

/** Bounds of a numeric option (inclusive unless named `above`). */
export interface NumberBounds {
  readonly min?: number
  readonly max?: number
  /** Exclusive lower bound: the value must be greater than this. */
  readonly above?: number
}

/** A backoff as users write it: every field optional, `initial`/`max` as durations. */
export interface BackoffInput {
  readonly initial?: Duration
  readonly factor?: number
  readonly max?: Duration
  readonly jitter?: number
}

/**
 * The option checks of one package, each throwing that package's error class with a message that
 * names the option and what it got. Each takes the user's value (possibly `undefined`) and a
 * fallback, and returns the resolved value.
 */
export interface Checks {
  /** A {@link Duration} in ms, within `bounds` (and never above 2³¹−1 ms). */
  duration(name: string, value: unknown, fallback: Duration, bounds?: NumberBounds): number
  /** A whole number within `bounds`. */
  integer(name: string, value: unknown, fallback: number, bounds?: NumberBounds): number
  /** A finite number (or `Infinity` when `max` is not given and `allowInfinity`) within `bounds`. */
  number(
    name: string,
    value: unknown,
    fallback: number,
    bounds?: NumberBounds & { readonly allowInfinity?: boolean },
  ): number
  /** One of `allowed`. */
  oneOf<T extends string>(name: string, value: unknown, fallback: T, allowed: readonly T[]): T
  /** `true` or `false`. */
  boolean(name: string, value: unknown, fallback: boolean): boolean
  /** An options object or `undefined` (then `{}`): a group of options such as `breaker`. */
  group<T extends object>(name: string, value: T | undefined): Partial<T>
  /** A {@link Backoff} with `fallback` for what is left out; `initial <= max`, `factor >= 1`, `jitter` in [0, 1]. */
  backoff(name: string, value: BackoffInput | undefined, fallback: Backoff): Backoff
  /** Throws the package's error with `message`. */
  fail(message: string): never
}

function within(v: number, b: NumberBounds | undefined): boolean {
  if (b === undefined) return true
  return (
    (b.min === undefined || v >= b.min) &&
    (b.max === undefined || v <= b.max) &&
    (b.above === undefined || v > b.above)
  )
}

function boundsText(b: NumberBounds | undefined, unit = ''): string {
  if (b === undefined) return ''
  const parts: string[] = []
  if (b.above !== undefined) parts.push(`> ${b.above}${unit}`)
  if (b.min !== undefined) parts.push(`>= ${b.min}${unit}`)
  if (b.max !== undefined) parts.push(`<= ${b.max}${unit}`)
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`
}

/** The checks of a package whose options errors are `OptionsError`. */
export function createChecks(OptionsError: ErrorClass): Checks {
  const fail = (message: string): never => {
    throw new OptionsError(message)
  }
  const checks: Checks = {
    fail,
    duration(name, value, fallback, bounds) {
      const ms = parseDuration(value ?? fallback)
      if (ms === undefined || !within(ms, bounds)) {
        fail(
          `${name} must be a duration — ms, or a string like '250ms', '5s', '5m', '1h', '1d', at most ${MAX_DURATION_MS} ms${boundsText(bounds, ' ms')} — got ${describeValue(value)}`,
        )
      }
      return ms as number
    },
    integer(name, value, fallback, bounds) {
      const v = value ?? fallback
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || !within(v, bounds)) {
        fail(`${name} must be a whole number${boundsText(bounds)}, got ${describeValue(value)}`)
      }
      return v as number
    },
    number(name, value, fallback, bounds) {
      const v = value ?? fallback
      const finite =
        typeof v === 'number' &&
        (Number.isFinite(v) || (bounds?.allowInfinity === true && v === Number.POSITIVE_INFINITY))
      if (!finite || !within(v, bounds))
        fail(`${name} must be a number${boundsText(bounds)}, got ${describeValue(value)}`)
      return v as number
    },
    oneOf(name, value, fallback, allowed) {
      const v = value ?? fallback
      if (typeof v !== 'string' || !(allowed as readonly string[]).includes(v)) {
        fail(`${name} must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describeValue(value)}`)
      }
      return v as typeof fallback
    },
    boolean(name, value, fallback) {
      const v = value ?? fallback
      if (typeof v !== 'boolean') fail(`${name} must be true or false, got ${describeValue(value)}`)
      return v as boolean
    },
    group<T extends object>(name: string, value: T | undefined): Partial<T> {
      const given: unknown = value
      if (given === undefined) return {}
      if (typeof given !== 'object' || given === null || Array.isArray(given))
        fail(`${name} must be an object, got ${describeValue(value)}`)
      return given as Partial<T>
    },
    backoff(name, value, fallback) {
      const b = checks.group(name, value)
      const initial = checks.duration(`${name}.initial`, b.initial, fallback.initial)
      const max = checks.duration(`${name}.max`, b.max, fallback.max, { min: initial })
      const factor = checks.number(`${name}.factor`, b.factor, fallback.factor, { min: 1 })
      const jitter = checks.number(`${name}.jitter`, b.jitter, fallback.jitter, { min: 0, max: 1 })
      return { initial, max, factor, jitter }
    },
  }
  return checks
}

/** The units a duration string may carry. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h' | 'd'

/**
 * A duration: a number of milliseconds, or a number and a unit — `'250ms'`, `'5s'`, `'1.5m'`, `'1h'`,
 * `'1d'`. The same grammar in every scalekit package.
 */
export type Duration = number | `${number}${DurationUnit}`

/** The longest duration Node's timers can hold (2³¹−1 ms, about 24.8 days); every duration is bounded by it. */
export const MAX_DURATION_MS: number = 2 ** 31 - 1

const UNIT_MS: Readonly<Record<DurationUnit, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
}
const GRAMMAR = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/

/**
 * Milliseconds of a {@link Duration}, rounded to a whole number, or `undefined` when `value` is not
 * one: another type, a string outside the grammar, a negative, non-finite or NaN number, or more
 * than {@link MAX_DURATION_MS}.
 */
export function parseDuration(value: unknown): number | undefined {
  let ms: number
  if (typeof value === 'number') ms = value
  else if (typeof value === 'string') {
    const match = GRAMMAR.exec(value)
    if (match === null) return undefined
    ms = Number(match[1]) * UNIT_MS[match[2] as DurationUnit]
  } else return undefined
  if (!Number.isFinite(ms) || ms < 0) return undefined
  const rounded = Math.round(ms)
  return rounded <= MAX_DURATION_MS ? rounded : undefined
}

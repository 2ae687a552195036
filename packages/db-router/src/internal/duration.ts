import { DbRouterOptionsError } from '../errors'

/** A duration in milliseconds, or a string such as `'500ms'`, `'30s'`, `'5m'`, `'2h'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h'}`

const UNITS: Readonly<Record<string, number>> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/** Resolves a {@link Duration} to milliseconds; `name` makes the error say which option was wrong. */
export function toMs(value: Duration, name: string): number {
  let ms: number
  if (typeof value === 'number') ms = value
  else if (typeof value === 'string') {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(value)
    ms = match === null ? Number.NaN : Number(match[1]) * (UNITS[match[2] ?? ''] ?? Number.NaN)
  } else ms = Number.NaN
  if (!Number.isFinite(ms) || ms < 0) {
    throw new DbRouterOptionsError(`${name} must be a non-negative number of ms or a duration like '5s', got ${String(value)}`)
  }
  return Math.round(ms)
}

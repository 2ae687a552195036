import { CacheOptionsError } from '../errors'

/** A duration in milliseconds, or a string such as `'500ms'`, `'30s'`, `'5m'`, `'2h'`, `'1d'`. */
export type Duration = number | `${number}${'ms' | 's' | 'm' | 'h' | 'd'}`

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** Resolves a {@link Duration} to milliseconds; `name` makes the error say which option was wrong. */
export function toMs(value: Duration, name: string): number {
  let ms: number
  if (typeof value === 'number') ms = value
  else {
    const match = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value)
    ms = match === null ? Number.NaN : Number(match[1]) * (UNITS[match[2] ?? ''] ?? Number.NaN)
  }
  if (!Number.isFinite(ms) || ms < 0) {
    throw new CacheOptionsError(`${name} must be a non-negative number of ms or a duration like '5m', got ${String(value)}`)
  }
  return Math.round(ms)
}

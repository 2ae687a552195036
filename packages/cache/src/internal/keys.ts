import { CacheArgumentError } from '../errors'

/** Longest key accepted: longer ones are a mistake (a value used as a key), and cost Redis memory. */
export const MAX_KEY_LENGTH = 1024

/** A UTF-16 code unit of a surrogate pair that has no partner (`u` mode matches only lone ones). */
const LONE_SURROGATE = /\p{Cs}/u
/**
 * `String.prototype.isWellFormed` (ES2024, in Node 20; TypeScript's ES2023 lib does not declare it):
 * it runs on every call's key, and costs about a third of the regular expression.
 */
const nativeWellFormed = (String.prototype as { isWellFormed?: (this: string) => boolean }).isWellFormed

/**
 * True when `text` is well-formed UTF-16 (no lone surrogate). Redis stores keys as UTF-8, where a
 * lone surrogate becomes U+FFFD: `'x\ud800'`, `'x\udbff'` and `'x\ufffd'` would name one Redis entry
 * while L1 and the bus keep them apart. Keys and tags must pass this.
 */
export function isWellFormed(text: string): boolean {
  return nativeWellFormed === undefined ? !LONE_SURROGATE.test(text) : nativeWellFormed.call(text)
}

/** The error for an invalid key, or undefined; calls reject with it before any Redis call. */
export function invalidKey(key: unknown): CacheArgumentError | undefined {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_KEY_LENGTH)
    return new CacheArgumentError(
      `a cache key must be a non-empty string of at most ${MAX_KEY_LENGTH} characters`,
    )
  if (!isWellFormed(key))
    return new CacheArgumentError(
      'a cache key must be well-formed UTF-16: it holds a lone surrogate (Redis would store it as U+FFFD, the key of another value)',
    )
  return undefined
}

/** Throws `CacheArgumentError` unless `key` is a valid cache key. */
export function checkKey(key: unknown): void {
  const invalid = invalidKey(key)
  if (invalid !== undefined) throw invalid
}

import { CacheArgumentError } from '../errors'

/** Longest key accepted: longer ones are a mistake (a value used as a key), and cost Redis memory. */
const MAX_KEY_LENGTH = 1024

/** The error for an invalid key, or undefined; calls reject with it before any Redis call. */
export function invalidKey(key: unknown): CacheArgumentError | undefined {
  if (typeof key === 'string' && key.length > 0 && key.length <= MAX_KEY_LENGTH) return undefined
  return new CacheArgumentError(
    `a cache key must be a non-empty string of at most ${MAX_KEY_LENGTH} characters`,
  )
}

/** Throws `CacheArgumentError` unless `key` is a valid cache key. */
export function checkKey(key: unknown): void {
  const invalid = invalidKey(key)
  if (invalid !== undefined) throw invalid
}

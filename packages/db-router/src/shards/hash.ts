import { describeValue } from '@scalekit/internal'
import { DbRouterArgumentError } from '../errors'

/** A shard key: a string, a safe integer or a bigint. `42`, `42n` and `'42'` are the same key. */
export type ShardKey = string | number | bigint

const encoder = new TextEncoder()

/**
 * The key's canonical text: a string as it is, an integer (number or bigint) in decimal. So a key
 * read back from Postgres — where `bigint` columns arrive as strings — routes where the number did.
 * Anything else (a fraction, NaN, an object) is refused with `ERR_DB_INVALID_ARGUMENT`.
 */
export function canonicalKey(key: unknown, name = 'key'): string {
  if (typeof key === 'string') return key
  if (typeof key === 'bigint') return key.toString(10)
  if (typeof key === 'number' && Number.isSafeInteger(key)) return String(key)
  throw new DbRouterArgumentError(
    `${name} must be a string, a safe integer or a bigint, got ${describeValue(key)}`,
  )
}

/**
 * MurmurHash3 (x86, 32-bit, seed 0) of `bytes`: Austin Appleby's public-domain hash, chosen because
 * it is fast, well spread and specified the same in every language (so another service, or a SQL
 * function, can compute a key's bucket). Test vectors in `test/unit/shard-hash.test.ts`.
 */
export function murmur3(bytes: Uint8Array, seed = 0): number {
  return murmur3Of(bytes, bytes.length, seed)
}

/** {@link murmur3} of the first `length` bytes of `bytes`. */
function murmur3Of(bytes: Uint8Array, length: number, seed: number): number {
  const c1 = 0xcc9e2d51
  const c2 = 0x1b873593
  let h = seed >>> 0
  const blocks = length & ~3
  for (let i = 0; i < blocks; i += 4) {
    let k =
      (bytes[i] ?? 0) | ((bytes[i + 1] ?? 0) << 8) | ((bytes[i + 2] ?? 0) << 16) | ((bytes[i + 3] ?? 0) << 24)
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
    h = (h << 13) | (h >>> 19)
    h = (Math.imul(h, 5) + 0xe6546b64) | 0
  }
  let k = 0
  const tail = length & 3
  if (tail === 3) k ^= (bytes[blocks + 2] ?? 0) << 16
  if (tail >= 2) k ^= (bytes[blocks + 1] ?? 0) << 8
  if (tail >= 1) {
    k ^= bytes[blocks] ?? 0
    k = Math.imul(k, c1)
    k = (k << 15) | (k >>> 17)
    k = Math.imul(k, c2)
    h ^= k
  }
  h ^= length
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/**
 * The virtual bucket of `key` among `buckets`: `murmur3(utf8(canonicalKey(key))) mod buckets`.
 * Stable across processes, versions and languages: it is the contract between routers, the
 * directory and bucket moves.
 */
export function bucketOf(key: ShardKey, buckets: number): number {
  const text = canonicalKey(key)
  const length = asciiInto(text)
  return (length >= 0 ? murmur3Of(scratch, length, 0) : murmur3(encoder.encode(text))) % buckets
}

/** Longest key copied into {@link scratch}; a longer one goes through `TextEncoder`. */
const SCRATCH_BYTES = 256
/** Reused for every lookup: hashing an ASCII key allocates nothing and does not call into `TextEncoder`. */
const scratch = new Uint8Array(SCRATCH_BYTES)

/**
 * Copies an ASCII `text` (its UTF-8 is its char codes) into {@link scratch} and returns its length;
 * -1 for text with other characters or longer than the scratch buffer.
 */
function asciiInto(text: string): number {
  const length = text.length
  if (length > SCRATCH_BYTES) return -1
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0x80) return -1
    scratch[i] = c
  }
  return length
}

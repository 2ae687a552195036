import type { CloseOptions } from '@scalekit/internal'
import type { Codec } from '../codec'
import type { Encryption } from '../encryption'
import { CacheOptionsError } from '../errors'
import type { Remote } from '../l2/remote'
import type { Trouble } from './events'

/** Something the cache closes with itself (a write-behind queue). */
export interface Dependent {
  close(options?: CloseOptions): Promise<void>
}

/**
 * What a part built on a cache (the write-behind queues of `@scalekit/cache/write-behind`) uses of
 * it: its Redis connection (timeout, breaker), codec, encryption and trouble reporting, and a place in its
 * `close()`. Kept out of the public `Cache` interface: users never see it.
 */
export interface Plumbing {
  readonly namespace: string
  readonly codec: Codec
  /** The cache's encryption: what a write-behind queue stores is encrypted with it too. */
  readonly encryption: Encryption | undefined
  /** The cache's Redis connection; undefined for a memory-only cache. */
  readonly remote: Remote | undefined
  readonly trouble: Trouble
  /** True once `close()` was called. */
  closed(): boolean
  /** Closes `dependent` within the cache's `close()`; returns what to call when it closed by itself. */
  adopt(dependent: Dependent): () => void
}

// One map for every entry point: tsup puts this module in a chunk both entries share.
const registry = new WeakMap<object, Plumbing>()

/** Records the plumbing of a cache `createCache` made. */
export function registerPlumbing(cache: object, plumbing: Plumbing): void {
  registry.set(cache, plumbing)
}

/** The plumbing of `cache`; throws `CacheOptionsError` when it is not a cache `createCache` made. */
export function plumbingOf(cache: unknown): Plumbing {
  const plumbing = typeof cache === 'object' && cache !== null ? registry.get(cache) : undefined
  if (plumbing === undefined)
    throw new CacheOptionsError('write-behind: the first argument must be a cache made by createCache()')
  return plumbing
}

import type { DbRouter } from '../types'
import type { Directory } from './directory'

/** What `initDirectory()` and `moveBucket()` need of a sharded router beyond its public surface. */
export interface ShardedInternals {
  readonly directory: Directory | undefined
  readonly column: string | undefined
  readonly routers: ReadonlyMap<string, DbRouter>
  /** The data shards (those the map routes to). */
  readonly shards: readonly string[]
}

/** Keyed by the router object handed out; never exported from the package. */
export const internalsOf: WeakMap<object, ShardedInternals> = new WeakMap()

export { createShardedRouter } from './sharded-router'
export type {
  CrossShardOptions,
  ShardedRouter,
  ShardedRouterHealth,
  ShardedRouterOptions,
  ShardOptions,
  ShardQueryOptions,
} from './sharded-router'
export type { CrossShardResult, CrossShardResultBase, MergeOption, PartialCrossShardResult } from './fan-out'
export { createShardMap, DEFAULT_BUCKETS } from './map'
export type { BucketRange, HashMapOptions, KeyRange, ListMapOptions, ShardMap, StaticMapOptions } from './map'
export { bucketOf, canonicalKey, murmur3, type ShardKey } from './hash'
export type { RowComparator } from './merge'
export {
  DbBucketMoveError,
  DbBucketMovingError,
  DbCrossShardError,
  DbMergeUnsupportedError,
  DbNoShardError,
  DbShardKeyRequiredError,
  DbShardsFailedError,
  errors,
  type ShardFailure,
} from '../errors'
export { shardChannels, type BucketMoveEvent, type ShardCallContext } from './channels'
export { initDirectory, moveBucket } from './move'
export type { MoveBucketOptions, MoveBucketResult, MoveStep } from './move'
export type { DirectoryMapOptions } from './map'
export { createShardIds } from './ids'
export type { ShardIds, ShardIdsOptions } from './ids'

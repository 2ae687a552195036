// Sharding's error classes are defined with the rest of the package's in `src/errors.ts`, so the one
// `errors` map lists every code; this module names them for the shards code and the subpath.
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

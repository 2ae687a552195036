import { withTimeout } from '@scalekit/internal'
import type { FieldDef, QueryResult, QueryResultRow } from 'pg'
import { DbMergeUnsupportedError, DbTimeoutError, type ShardFailure } from '../errors'
import type { DbRouter } from '../types'
import { traceShard } from './channels'
import type { RowComparator } from './merge'
import { combineAggregates, mergeSorted, rowComparator } from './merge'
import type { KeyRef, MergePlan } from './statement'

/** How `queryAllShards()` combines the shards' rows. */
export type MergeOption<R> =
  /** From the parsed statement: aggregates (count/sum/min/max) combined, ORDER BY merged, LIMIT applied; anything it cannot merge exactly is refused. */
  | 'auto'
  /** Every shard's rows one after the other, in shard order. */
  | 'concat'
  /** Each shard's rows are sorted by `orderBy` (the statement sorts them); they are merged by it and cut at `limit`. */
  | { readonly orderBy: RowComparator<R>; readonly limit?: number }

/** What every cross-shard result has. */
export interface CrossShardResultBase<R extends QueryResultRow> {
  /** The merged rows. */
  readonly rows: R[]
  readonly rowCount: number
  /** The columns, from the first shard that answered (empty when none did). */
  readonly fields: readonly FieldDef[]
  /** The shards that answered, in shard order. */
  readonly shards: readonly string[]
}

/** The result under `onError: 'fail'`: every shard answered. */
export interface CrossShardResult<R extends QueryResultRow> extends CrossShardResultBase<R> {
  readonly complete: true
  readonly failed: readonly []
}

/** The result under `onError: 'partial'`: the rows of the shards that answered, and those that did not. */
export interface PartialCrossShardResult<R extends QueryResultRow> extends CrossShardResultBase<R> {
  /** True when no shard failed. */
  readonly complete: boolean
  readonly failed: readonly ShardFailure[]
}

/** One shard's answer or failure. */
export interface ShardOutcome {
  readonly shard: string
  readonly result?: QueryResult
  readonly error?: Error
}

/**
 * Runs `text` on every shard, at most `concurrency` at a time, all within `timeoutMs` of the start
 * (a shard not done by then fails with `ERR_DB_TIMEOUT`; its statement gets the time left as its
 * `query_timeout`, so the server stops working for it). Never rejects: each shard's outcome is returned.
 */
export async function runOnShards(
  shards: readonly (readonly [string, DbRouter])[],
  text: string,
  values: unknown[] | undefined,
  role: 'primary' | 'replica' | undefined,
  concurrency: number,
  timeoutMs: number,
): Promise<ShardOutcome[]> {
  const started = performance.now()
  const outcomes: ShardOutcome[] = new Array<ShardOutcome>(shards.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < shards.length) {
      const index = next
      next += 1
      const [shard, router] = shards[index] as readonly [string, DbRouter]
      const left = Math.floor(timeoutMs - (performance.now() - started))
      if (left <= 0) {
        outcomes[index] = {
          shard,
          error: new DbTimeoutError(
            `shard ${shard} was not reached within the cross-shard timeout (${timeoutMs} ms)`,
          ),
        }
        continue
      }
      try {
        const config = { text, values, query_timeout: left }
        const call = traceShard({ shard, operation: 'all-shards', route: 'all' }, () =>
          role === undefined ? router.query(config) : router.query(config, { role }),
        )
        const result = await withTimeout(
          call,
          left + 50,
          () =>
            new DbTimeoutError(
              `shard ${shard} did not answer within the cross-shard timeout (${timeoutMs} ms)`,
            ),
        )
        outcomes[index] = { shard, result }
      } catch (error) {
        outcomes[index] = { shard, error: error instanceof Error ? error : new Error(String(error)) }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, shards.length) }, worker))
  return outcomes
}

function limitOf(ref: KeyRef | undefined, values: readonly unknown[] | undefined): number {
  if (ref === undefined) return Infinity
  const v: unknown = 'param' in ref ? values?.[ref.param - 1] : ref.value
  if (v === null || v === undefined) return Infinity
  const n = Number(v)
  if (!Number.isFinite(n) || n < 0)
    throw new DbMergeUnsupportedError(`LIMIT must be a whole number to merge by, got ${typeof v}`)
  return Math.floor(n)
}

/** The merged rows of the shards that answered. */
export function mergeRows<R extends QueryResultRow>(
  results: readonly QueryResult[],
  merge: MergeOption<R>,
  plan: MergePlan | undefined,
  values: readonly unknown[] | undefined,
): R[] {
  const lists = results.map((r) => r.rows as R[])
  if (merge === 'concat') return lists.flat()
  if (typeof merge === 'object') return mergeSorted(lists, merge.orderBy, merge.limit ?? Infinity)
  if (plan === undefined || !plan.ok)
    throw new DbMergeUnsupportedError('the statement cannot be merged automatically')
  const fields = results[0]?.fields ?? []
  const limit = limitOf(plan.limit, values)
  if (plan.aggregates.size > 0) {
    const rows = combineAggregates(lists.flat(), plan.aggregates, fields)
    if (plan.orderBy.length > 0) rows.sort(rowComparator<R>(plan.orderBy, fields))
    return rows.slice(0, limit)
  }
  if (plan.orderBy.length > 0) return mergeSorted(lists, rowComparator<R>(plan.orderBy, fields), limit)
  return lists.flat().slice(0, limit)
}

import type { QueueRecord, QueuedOp } from './store'
import type { WriteBehindEntry } from './types'

/** A batch ready for `write`: the coalesced operations, their decoded entries, and every record id it settles. */
export interface PreparedBatch<T> {
  readonly ops: readonly QueuedOp[]
  readonly entries: readonly WriteBehindEntry<T>[]
  readonly ids: readonly string[]
  /** Records that cannot be written (undecodable or malformed), each with the reason. */
  readonly rejects: readonly { readonly record: QueueRecord; readonly reason: string }[]
}

/**
 * Keeps the last operation per key (a later set or delete overrides an earlier one), ordered by
 * that last occurrence, so the store sees each key once per batch and ends with the newest state.
 */
export function coalesce<R extends QueuedOp>(records: readonly R[]): R[] {
  const last = new Map<string, R>()
  for (const record of records) {
    last.delete(record.key)
    last.set(record.key, record)
  }
  return [...last.values()]
}

/**
 * Coalesces `records` and opens their values (`open` decrypts and decodes, and checks a delete's
 * seal); records that cannot be opened are set apart.
 */
export function prepareBatch<T>(
  records: readonly QueueRecord[],
  open: (op: QueuedOp) => T | undefined,
): PreparedBatch<T> {
  const rejects: { record: QueueRecord; reason: string }[] = []
  const usable = records.filter((record) => {
    if (record.invalid === undefined) return true
    rejects.push({ record, reason: record.invalid })
    return false
  })
  const ops: QueuedOp[] = []
  const entries: WriteBehindEntry<T>[] = []
  for (const op of coalesce(usable)) {
    try {
      const value = open(op)
      entries.push(
        op.deleted
          ? { key: op.key, deleted: true, value: undefined }
          : { key: op.key, deleted: false, value: value as T },
      )
      ops.push(op)
    } catch (error) {
      rejects.push({
        record: op,
        reason: `undecodable: ${error instanceof Error ? error.message : String(error)}`,
      })
    }
  }
  const rejected = new Set(rejects.map((r) => r.record.id))
  // A record overridden by a later one for the same key is settled by the batch too.
  const ids = usable.filter((r) => !rejected.has(r.id)).map((r) => r.id)
  return { ops, entries, ids, rejects }
}

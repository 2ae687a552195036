import type { PoolClient, QueryResult, QueryResultRow } from 'pg'
import { isPlainText, timed } from '../internal/query-args'
import type { TimedQueryConfig } from '../internal/query-args'
import { parseLsn, settleInsertLsn } from '../internal/lsn'

/**
 * The primary's WAL insert position. Taken after the commit returned, it is at or past the commit
 * record, so a replica whose replay LSN reached it shows the write (FACTS: `RETURNING
 * pg_current_wal_insert_lsn()` would be before the commit record).
 */
export const LSN_SQL =
  "SELECT pg_current_wal_insert_lsn()::text AS lsn, pg_size_bytes(current_setting('wal_segment_size'))::text AS seg, current_setting('wal_block_size') AS blk"

interface LsnRow {
  lsn: string
  seg: string
  blk: string
}

/** The settled WAL position in the last row set of {@link LSN_SQL}. */
export function lsnOf(result: QueryResult<QueryResultRow> | undefined): bigint {
  const row = result?.rows[0] as LsnRow | undefined
  if (row === undefined) throw new Error('no WAL position in the result')
  return settleInsertLsn(parseLsn(row.lsn), BigInt(row.seg), BigInt(row.blk))
}

/** The commit LSN of the session's last commit: one round trip. */
export async function captureLsn(client: PoolClient, timeoutMs: number): Promise<bigint> {
  return lsnOf(await client.query(timed(LSN_SQL, timeoutMs)))
}

/**
 * Runs a write and returns it with the WAL position after its commit. A single parameterless
 * statement travels in one round trip as `BEGIN; stmt; COMMIT; SELECT lsn` (simple protocol; on
 * error the transaction is rolled back before the client is released); otherwise the statement
 * (autocommitted) and the position take two round trips on the same session.
 */
export async function writeAndCapture(
  client: PoolClient,
  config: TimedQueryConfig,
  wrappable: boolean,
): Promise<{ result: QueryResult; lsn: bigint }> {
  if (!(wrappable && isPlainText(config))) {
    const result = await client.query(config)
    return { result, lsn: await captureLsn(client, config.query_timeout ?? 30_000) }
  }
  const text = `BEGIN;\n${config.text}\n;COMMIT;\n${LSN_SQL}`
  let results: QueryResult[]
  try {
    results = (await client.query(timed(text, config.query_timeout ?? 30_000))) as unknown as QueryResult[]
  } catch (error) {
    await client.query(timed('ROLLBACK', config.query_timeout ?? 30_000)).catch(() => undefined)
    throw error
  }
  const result = results[1]
  if (!Array.isArray(results) || result === undefined)
    throw new Error('unexpected result shape of a wrapped write')
  return { result, lsn: lsnOf(results.at(-1)) }
}

/** Commits the open transaction and returns the WAL position after the commit, in one round trip. */
export async function commitAndCapture(client: PoolClient, timeoutMs: number): Promise<bigint> {
  const results = (await client.query(timed(`COMMIT;\n${LSN_SQL}`, timeoutMs))) as unknown as QueryResult[]
  return lsnOf(results.at(-1))
}

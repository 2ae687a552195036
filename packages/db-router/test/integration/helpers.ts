import { tracingChannel } from 'node:diagnostics_channel'
import pg from 'pg'
import type { DbQueryContext } from '../../src/index'
import { LSN_SQL } from '../../src/consistency/capture'
import { formatLsn, parseLsn, settleInsertLsn } from '../../src/internal/lsn'

/** Records every `scalekit:db-router:query` attempt while subscribed. */
export function recordQueries(): { readonly seen: DbQueryContext[]; stop(): void } {
  const seen: DbQueryContext[] = []
  const channel = tracingChannel<unknown, DbQueryContext>('scalekit:db-router:query')
  const handlers = {
    start: (ctx: DbQueryContext) => {
      seen.push(ctx)
    },
    end: () => undefined,
    asyncStart: () => undefined,
    asyncEnd: () => undefined,
    error: () => undefined,
  }
  channel.subscribe(handlers)
  return {
    seen,
    stop: () => {
      channel.unsubscribe(handlers)
    },
  }
}

/** Runs one statement on a plain pg client (test fixtures, replica control). */
export async function admin<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5000 })
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}

/** Waits (up to `timeoutMs`) until `replicaUrl` has replayed everything `primaryUrl` wrote so far. */
export async function waitForReplay(
  primaryUrl: string,
  replicaUrl: string,
  timeoutMs = 20_000,
): Promise<void> {
  const [raw] = await admin<{ lsn: string; seg: string; blk: string }>(primaryUrl, LSN_SQL)
  const row =
    raw === undefined
      ? undefined
      : { lsn: formatLsn(settleInsertLsn(parseLsn(raw.lsn), BigInt(raw.seg), BigInt(raw.blk))) }
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const [r] = await admin<{ ok: boolean }>(
      replicaUrl,
      'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok',
      [row?.lsn],
    )
    if (r?.ok === true) return
    if (Date.now() > deadline)
      throw new Error(`replica ${replicaUrl} did not replay ${row?.lsn ?? '?'} in ${timeoutMs} ms`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

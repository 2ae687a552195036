/**
 * What every db-router scenario shares: where the primary and the replicas are, this run's table,
 * small admin helpers, and the control of replay on the second replica (always resumed).
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'

export interface DbBenchContext {
  /** The replication primary (`SCALEKIT_PG_PRIMARY_URL`, default port 5433). */
  readonly primaryUrl: string
  /** The first streaming replica (`SCALEKIT_PG_REPLICA_URL`, 5434): the node every throughput contender reads. */
  readonly replicaUrl: string
  /** The second replica (`SCALEKIT_PG_REPLICA2_URL`, 5435): the one the stale-read scenario pauses. */
  readonly replica2Url: string
  /** This run's table (unique name), created on the primary and dropped at the end. */
  readonly table: string
  readonly runId: string
  /** Shorter runs for a smoke test: `BENCH_QUICK=1`. */
  readonly quick: boolean
}

/** Rows of the table: `id` 1..ROWS. */
export const ROWS = 100

export function createContext(): DbBenchContext {
  const id = `${process.pid.toString(36)}${randomBytes(3).toString('hex')}`
  return {
    primaryUrl: process.env.SCALEKIT_PG_PRIMARY_URL ?? 'postgres://postgres@127.0.0.1:5433/test',
    replicaUrl: process.env.SCALEKIT_PG_REPLICA_URL ?? 'postgres://postgres@127.0.0.1:5434/test',
    replica2Url: process.env.SCALEKIT_PG_REPLICA2_URL ?? 'postgres://postgres@127.0.0.1:5435/test',
    table: `skbench_dbr_${id}`,
    runId: id,
    quick: process.env.BENCH_QUICK === '1',
  }
}

/** Runs one statement on a fresh connection (fixtures, replica control). */
export async function admin<R extends pg.QueryResultRow = pg.QueryResultRow>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({
    connectionString: url,
    connectionTimeoutMillis: 5000,
    query_timeout: 30_000,
  })
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Creates the table on the primary with ROWS rows and waits until both replicas have replayed it. */
export async function createTable(ctx: DbBenchContext): Promise<void> {
  await admin(
    ctx.primaryUrl,
    `CREATE TABLE ${ctx.table} (id int PRIMARY KEY, val int NOT NULL, name text NOT NULL)`,
  )
  await admin(
    ctx.primaryUrl,
    `CREATE VIEW ${ctx.table}_port AS SELECT id, inet_server_port() AS port FROM ${ctx.table}`,
  )
  await admin(
    ctx.primaryUrl,
    `INSERT INTO ${ctx.table} SELECT g, 0, 'row ' || g FROM generate_series(1, ${ROWS}) g`,
  )
  await waitForReplay(ctx, ctx.replicaUrl)
  await waitForReplay(ctx, ctx.replica2Url)
}

export async function dropTable(ctx: DbBenchContext): Promise<void> {
  await admin(ctx.primaryUrl, `DROP TABLE IF EXISTS ${ctx.table} CASCADE`)
}

/** Waits (up to `timeoutMs`) until `replicaUrl` has replayed the primary's current WAL position. */
export async function waitForReplay(
  ctx: DbBenchContext,
  replicaUrl: string,
  timeoutMs = 30_000,
): Promise<void> {
  // The flush position is the end of a complete record, so an idle replica can reach it.
  const [row] = await admin<{ lsn: string }>(ctx.primaryUrl, 'SELECT pg_current_wal_flush_lsn()::text AS lsn')
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const [r] = await admin<{ ok: boolean }>(
      replicaUrl,
      'SELECT pg_last_wal_replay_lsn() >= $1::pg_lsn AS ok',
      [row?.lsn],
    )
    if (r?.ok === true) return
    if (Date.now() > deadline)
      throw new Error(
        `replica ${replicaUrl} did not replay ${row?.lsn ?? '?'} within ${timeoutMs} ms (paused by someone?)`,
      )
    await sleep(10)
  }
}

/** Replay state of a replica: paused or not, and its `recovery_min_apply_delay`. */
export async function replayState(url: string): Promise<{ paused: boolean; delay: string }> {
  const [row] = await admin<{ paused: boolean; delay: string }>(
    url,
    "SELECT pg_is_wal_replay_paused() AS paused, current_setting('recovery_min_apply_delay') AS delay",
  )
  return { paused: row?.paused === true, delay: row?.delay ?? '?' }
}

/**
 * Runs `fn` with replay paused on `url`, and always resumes replay (and clears any
 * `recovery_min_apply_delay`) afterwards, also on Ctrl-C.
 */
export async function withReplayPaused<T>(url: string, fn: () => Promise<T>): Promise<T> {
  const restore = async (): Promise<void> => {
    await admin(url, 'SELECT pg_wal_replay_resume()')
    const { delay } = await replayState(url)
    if (delay !== '0' && delay !== '0ms') {
      await admin(url, 'ALTER SYSTEM RESET recovery_min_apply_delay')
      await admin(url, 'SELECT pg_reload_conf()')
    }
  }
  const onSignal = (): void => {
    void restore().finally(() => process.exit(130))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    await admin(url, 'SELECT pg_wal_replay_pause()')
    return await fn()
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    await restore()
  }
}

/** The statement of the throughput scenario. */
export function pointQuery(ctx: DbBenchContext): string {
  return `SELECT id, val, name FROM ${ctx.table} WHERE id = $1`
}

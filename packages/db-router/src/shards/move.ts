import { describeValue } from '@scalekit/internal'
import type { PoolClient } from 'pg'
import { DbBucketMoveError, DbRouterArgumentError } from '../errors'
import type { DbRouter } from '../types'
import { shardChannels } from './channels'
import type { Directory } from './directory'
import { bucketOf } from './hash'
import { internalsOf } from './internals'
import type { ShardedInternals } from './internals'
import type { BucketRange } from './map'
import { bucketTable } from './map'
import type { ShardedRouter } from './sharded-router'

/** The steps of a bucket move, in order, as `onStep` and the `bucket-move` channel report them. */
export type MoveStep = 'planned' | 'fenced' | 'copied' | 'released' | 'switched' | 'cleaned'

/** Options of {@link moveBucket}. */
export interface MoveBucketOptions {
  /** The bucket to move (`db.map.bucketOf(key)`). */
  bucket: number
  /** The shard to move it to. */
  to: string
  /** Every table holding rows keyed by the shard column (the same definition on every shard). */
  tables: readonly string[]
  /** Called after each step (progress, or a test stopping the mover there). */
  onStep?: (step: MoveStep) => void | Promise<void>
}

/** What a move did. */
export interface MoveBucketResult {
  readonly bucket: number
  readonly from: string
  readonly to: string
  /** Rows copied by this run (0 when a rerun found the copy done). */
  readonly rows: number
  /** The directory epoch of the bucket after the move. */
  readonly epoch: string
}

function internals(db: ShardedRouter): ShardedInternals & { directory: Directory; column: string } {
  const found = internalsOf.get(db)
  if (found?.directory === undefined)
    throw new DbRouterArgumentError(
      'bucket moves need a router made by createShardedRouter with a directory map',
    )
  if (found.column === undefined)
    throw new DbRouterArgumentError(
      'bucket moves need shardColumn: the column that holds the key in every table',
    )
  return found as ShardedInternals & { directory: Directory; column: string }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$/

/**
 * Creates the directory tables (on the home shard) and the ownership tables (on every shard) when
 * they are missing, and fills a new directory: bucket → shard by `assign` (default: equal contiguous
 * ranges in the order of the shards), epoch 1. Idempotent: an existing directory is left as it is.
 */
export async function initDirectory(
  db: ShardedRouter,
  options: { assign?: Readonly<Record<string, readonly BucketRange[]>> } = {},
): Promise<void> {
  const { directory, routers, shards } = internalsOf.get(db) ?? {}
  if (directory === undefined || routers === undefined || shards === undefined)
    throw new DbRouterArgumentError(
      'initDirectory needs a router made by createShardedRouter with a directory map',
    )
  const { names } = directory
  const table = bucketTable('initDirectory', directory.buckets, options.assign, shards)
  const home = homeRouter(directory, routers)
  await inTransaction(home, async (c) => {
    await c.query('SELECT pg_advisory_xact_lock(hashtext($1))', [names.directory])
    await c.query(
      `CREATE TABLE IF NOT EXISTS ${names.directory} (bucket int PRIMARY KEY, shard text NOT NULL, epoch bigint NOT NULL, moving_to text, cleanup_on text)`,
    )
    await c.query(
      `CREATE TABLE IF NOT EXISTS ${names.epoch} (one boolean PRIMARY KEY DEFAULT true CHECK (one), epoch bigint NOT NULL)`,
    )
    const { rows } = await c.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${names.directory}`)
    if ((rows[0]?.n ?? 0) > 0) return
    await c.query(
      `INSERT INTO ${names.directory} (bucket, shard, epoch) SELECT b - 1, s, 1 FROM unnest($1::text[]) WITH ORDINALITY AS u(s, b)`,
      [table],
    )
    await c.query(`INSERT INTO ${names.epoch} (epoch) VALUES (1) ON CONFLICT (one) DO NOTHING`)
    for (const shard of shards) {
      const owned = table.flatMap((s, b) => (s === shard ? [b] : []))
      await inTransaction(routers.get(shard) as DbRouter, async (s) => {
        await s.query(
          `CREATE TABLE IF NOT EXISTS ${names.owned} (bucket int PRIMARY KEY, epoch bigint NOT NULL)`,
        )
        await s.query(
          `INSERT INTO ${names.owned} (bucket, epoch) SELECT b, 1 FROM unnest($1::int[]) AS b ON CONFLICT (bucket) DO NOTHING`,
          [owned],
        )
      })
    }
  })
  await directory.refresh(true)
}

/**
 * Moves one bucket's rows from the shard that owns it to `to`, while the app keeps writing:
 *
 * 1. `planned` — the directory marks the bucket as moving to `to`;
 * 2. `fenced` — on the source, the bucket's ownership row is taken `FOR UPDATE`: writes to the
 *    bucket in flight finish first, new ones wait (each write takes that row `FOR SHARE` in its own
 *    transaction);
 * 3. `copied` — under the fence, every row of the bucket is copied to `to` (leftovers of an earlier,
 *    interrupted run deleted first), and `to` gets the ownership row at the next epoch, in one
 *    transaction;
 * 4. `released` — the source deletes its ownership row and commits: waiting writes find the bucket
 *    gone, re-read the directory and go to `to`;
 * 5. `switched` — the directory names `to` at the next epoch (routers everywhere re-read it);
 * 6. `cleaned` — the source's copy of the rows is deleted.
 *
 * Killed at any point, the bucket stays owned by exactly one shard (the source until step 4
 * commits, `to` after), and running the same move again completes it.
 */
export async function moveBucket(db: ShardedRouter, options: MoveBucketOptions): Promise<MoveBucketResult> {
  const { directory, routers, column, shards } = internals(db)
  const { bucket, to, tables, onStep } = options
  if (!Number.isInteger(bucket) || bucket < 0 || bucket >= directory.buckets)
    throw new DbRouterArgumentError(
      `bucket must be a whole number in [0, ${directory.buckets - 1}], got ${describeValue(bucket)}`,
    )
  if (!shards.includes(to))
    throw new DbRouterArgumentError(`to must name a shard (${shards.join(', ')}), got ${describeValue(to)}`)
  if (
    !Array.isArray(tables) ||
    tables.length === 0 ||
    tables.some((t) => typeof t !== 'string' || !IDENT.test(t))
  )
    throw new DbRouterArgumentError(
      `tables must be a non-empty list of table names, got ${describeValue(tables)}`,
    )
  if (!IDENT.test(column)) throw new DbRouterArgumentError(`shardColumn ${column} is not a plain column name`)
  const { names } = directory
  const home = homeRouter(directory, routers)
  const step = async (name: MoveStep, from: string, rows?: number): Promise<void> => {
    if (shardChannels.bucketMove.hasSubscribers)
      shardChannels.bucketMove.publish({
        bucket,
        from,
        to,
        step: name,
        ...(rows === undefined ? {} : { rows }),
      })
    await onStep?.(name)
  }
  const fail = (message: string, cause?: unknown): never => {
    throw new DbBucketMoveError(`move of bucket ${bucket} to ${to}: ${message}`, { cause })
  }

  await directory.refresh(true)
  const entry = directory.entry(bucket)
  const from = entry.shard
  const next = entry.epoch + 1n
  if (from === to) {
    if (entry.cleanupOn !== undefined) await cleanup(entry.cleanupOn)
    return { bucket, from: entry.cleanupOn ?? to, to, rows: 0, epoch: entry.epoch.toString() }
  }
  if (entry.movingTo !== undefined && entry.movingTo !== to)
    fail(`a move of the bucket to ${entry.movingTo} is under way; finish it first`)

  const planned = await home.query(
    `UPDATE ${names.directory} SET moving_to = $2 WHERE bucket = $1 AND shard = $3 AND epoch = $4 AND (moving_to IS NULL OR moving_to = $2)`,
    [bucket, to, from, entry.epoch.toString()],
    { role: 'primary' },
  )
  if (planned.rowCount !== 1) fail('the directory changed under the move (another mover?); rerun it')
  await bumpEpoch()
  await step('planned', from)

  let copied = 0
  const source = await (routers.get(from) as DbRouter).connect()
  let sourceOpen = false
  try {
    await source.query('BEGIN')
    sourceOpen = true
    const held = await source.query(`SELECT epoch FROM ${names.owned} WHERE bucket = $1 FOR UPDATE`, [bucket])
    if (held.rowCount === 1) {
      await step('fenced', from)
      copied = await copyTo(source)
      await step('copied', from, copied)
      await source.query(`DELETE FROM ${names.owned} WHERE bucket = $1`, [bucket])
      await source.query('COMMIT')
      sourceOpen = false
      await step('released', from)
    } else {
      // An earlier run released the source; the target must own the bucket at the next epoch.
      await source.query('ROLLBACK')
      sourceOpen = false
      const target = await (routers.get(to) as DbRouter).query<{ epoch: string }>(
        `SELECT epoch::text AS epoch FROM ${names.owned} WHERE bucket = $1`,
        [bucket],
        { role: 'primary' },
      )
      if (target.rows[0]?.epoch !== next.toString())
        fail(`neither ${from} nor ${to} owns the bucket: check ${names.owned} on both`)
    }
  } catch (error) {
    if (sourceOpen) await source.query('ROLLBACK').catch(() => undefined)
    source.release(error instanceof Error ? error : true)
    if (error instanceof DbBucketMoveError) throw error
    return fail('a step failed; rerun the move', error)
  }
  source.release()

  await inTransaction(home, async (c) => {
    await c.query(
      `UPDATE ${names.directory} SET shard = $2, epoch = $3, moving_to = NULL, cleanup_on = $4 WHERE bucket = $1`,
      [bucket, to, next.toString(), from],
    )
    await c.query(`UPDATE ${names.epoch} SET epoch = epoch + 1`)
  })
  await directory.refresh(true)
  await step('switched', from)
  await cleanup(from)
  return { bucket, from, to, rows: copied, epoch: next.toString() }

  async function bumpEpoch(): Promise<void> {
    await home.query(`UPDATE ${names.epoch} SET epoch = epoch + 1`, [], { role: 'primary' })
  }

  /** The keys of the bucket in `table`, read on `client`'s session. */
  async function keysOf(client: PoolClient, table: string): Promise<string[]> {
    const { rows } = await client.query<{ k: string }>(`SELECT DISTINCT ${column}::text AS k FROM ${table}`)
    return rows.map((r) => r.k).filter((k) => bucketOf(k, directory.buckets) === bucket)
  }

  /** Copies the bucket's rows from the fenced source session to the target, in one target transaction. */
  async function copyTo(src: PoolClient): Promise<number> {
    let rows = 0
    const target = await (routers.get(to) as DbRouter).connect()
    try {
      await target.query('BEGIN')
      for (const table of tables) {
        const stale = await keysOf(target, table)
        if (stale.length > 0) await target.query(`DELETE FROM ${table} WHERE ${column} = ANY($1)`, [stale])
        const keys = await keysOf(src, table)
        for (let i = 0; i < keys.length; i += 500) {
          const batch = keys.slice(i, i + 500)
          const { rows: json } = await src.query<{ rows: string; n: number }>(
            `SELECT coalesce(json_agg(t), '[]')::text AS rows, count(*)::int AS n FROM ${table} t WHERE ${column} = ANY($1)`,
            [batch],
          )
          await target.query(
            `INSERT INTO ${table} SELECT * FROM json_populate_recordset(NULL::${table}, $1::json)`,
            [json[0]?.rows ?? '[]'],
          )
          rows += json[0]?.n ?? 0
        }
      }
      await target.query(
        `INSERT INTO ${names.owned} (bucket, epoch) VALUES ($1, $2) ON CONFLICT (bucket) DO UPDATE SET epoch = EXCLUDED.epoch`,
        [bucket, next.toString()],
      )
      await target.query('COMMIT')
    } catch (error) {
      await target.query('ROLLBACK').catch(() => undefined)
      target.release(error instanceof Error ? error : true)
      throw error
    }
    target.release()
    return rows
  }

  /** Deletes the bucket's rows from `shard`, which must no longer own it, then clears the directory's note. */
  async function cleanup(shard: string): Promise<void> {
    await inTransaction(routers.get(shard) as DbRouter, async (c) => {
      const owns = await c.query(`SELECT 1 FROM ${names.owned} WHERE bucket = $1`, [bucket])
      if (owns.rowCount !== 0) fail(`${shard} still owns the bucket; refusing to delete its rows`)
      for (const table of tables) {
        const keys = await keysOf(c, table)
        if (keys.length > 0) await c.query(`DELETE FROM ${table} WHERE ${column} = ANY($1)`, [keys])
      }
    })
    await home.query(`UPDATE ${names.directory} SET cleanup_on = NULL WHERE bucket = $1`, [bucket], {
      role: 'primary',
    })
    await step('cleaned', shard)
  }
}

function homeRouter(directory: Directory, routers: ReadonlyMap<string, DbRouter>): DbRouter {
  return routers.get(directory.home) as DbRouter
}

/** Runs `fn` on a primary session in BEGIN … COMMIT (ROLLBACK when it throws). */
async function inTransaction<T>(router: DbRouter, fn: (client: PoolClient) => Promise<T>): Promise<T> {
  const client = await router.connect()
  try {
    await client.query('BEGIN')
    const value = await fn(client)
    await client.query('COMMIT')
    client.release()
    return value
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    client.release(error instanceof Error ? error : true)
    throw error
  }
}

import { requireServices, serviceUrls, spawnWorker, uniqueName, waitFor } from '@scalekit/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createShardedRouter, initDirectory, moveBucket } from '../../src/shards/index'
import type { MoveBucketResult, MoveStep, ShardedRouter } from '../../src/shards/index'
import { admin } from './helpers'

const T = uniqueName('moved')
const PREFIX = uniqueName('dir')
const [A, B, C] = serviceUrls.pgShards as [string, string, string]
const URLS: Readonly<Record<string, string>> = { a: A, b: B, c: C }
const writer = new URL('./fixtures/shard-writer-worker.ts', import.meta.url)
const mover = new URL('./fixtures/shard-mover-worker.ts', import.meta.url)
const env = { SHARDS: JSON.stringify(URLS), PREFIX, TABLE: T }

let db: ShardedRouter
let bucket: number
let keys: string[]
/** A key of another bucket: its rows must not move. */
let bystander: string

async function rowsOn(shard: string, ofKeys: readonly string[]): Promise<string[]> {
  const rows = await admin<{ r: string }>(
    URLS[shard] as string,
    `SELECT tenant_id || '/' || writer || '/' || seq AS r FROM ${T} WHERE tenant_id = ANY($1) ORDER BY 1`,
    [ofKeys],
  )
  return rows.map((x) => x.r)
}

async function owners(): Promise<string[]> {
  const found: string[] = []
  for (const [shard, url] of Object.entries(URLS)) {
    const rows = await admin(url, `SELECT 1 FROM ${PREFIX}_buckets WHERE bucket = $1`, [bucket])
    if (rows.length > 0) found.push(shard)
  }
  return found
}

beforeAll(async () => {
  await requireServices('pgShards')
  for (const url of Object.values(URLS))
    await admin(
      url,
      `CREATE TABLE ${T} (tenant_id text, writer int, seq int, PRIMARY KEY (tenant_id, writer, seq))`,
    )
  db = createShardedRouter({
    shards: { a: { primary: A }, b: { primary: B }, c: { primary: C } },
    map: { strategy: 'directory', home: 'a', buckets: 64, prefix: PREFIX, refresh: '200ms' },
    shardColumn: 'tenant_id',
    logger: { warn: () => undefined },
  })
  await initDirectory(db)
  await db.ready()
  bucket = db.map.bucketOf('tenant-0') as number
  keys = Array.from({ length: 2000 }, (_, i) => `tenant-${i}`)
    .filter((k) => db.map.bucketOf(k) === bucket)
    .slice(0, 4)
  bystander = Array.from({ length: 100 }, (_, i) => `other-${i}`).find(
    (k) => db.map.shardOf(k) === db.map.shardOf('tenant-0') && db.map.bucketOf(k) !== bucket,
  ) as string
  for (let i = 0; i < 40; i += 1)
    await db.query(`INSERT INTO ${T} (tenant_id, writer, seq) VALUES ($1, -1, $2)`, [
      keys[i % keys.length],
      i,
    ])
  for (let i = 0; i < 10; i += 1)
    await db.query(`INSERT INTO ${T} (tenant_id, writer, seq) VALUES ($1, -1, $2)`, [bystander, i])
})

afterAll(async () => {
  await db.close()
  for (const url of Object.values(URLS)) {
    await admin(url, `DROP TABLE IF EXISTS ${T}`)
    await admin(url, `DROP TABLE IF EXISTS ${PREFIX}_buckets`)
  }
  await admin(A, `DROP TABLE IF EXISTS ${PREFIX}_directory, ${PREFIX}_directory_epoch`)
})

describe('moving a bucket', () => {
  it('while 4 processes write to it: every acknowledged write ends on the new shard, none on the old, none lost or doubled', async () => {
    const from = db.map.shardOf(keys[0] as string)
    const to = from === 'b' ? 'c' : 'b'
    const handles = Array.from({ length: 4 }, (_, index) =>
      spawnWorker<{ acked: number[]; failed: { seq: number; code: string }[] }>({
        script: writer,
        index,
        count: 4,
        env: { ...env, KEYS: JSON.stringify(keys) },
        timeoutMs: 120_000,
      }),
    )
    const progress = handles.map(() => 0)
    handles.forEach((h, i) =>
      h.onMessage((m) => {
        progress[i] = (m as { progress?: number }).progress ?? progress[i] ?? 0
      }),
    )
    await waitFor(() => progress.every((p) => p >= 20), { timeout: 60_000 })
    const result: MoveBucketResult = await moveBucket(db, { bucket, to, tables: [T] })
    expect(result).toMatchObject({ bucket, from, to })
    // Writes keep landing after the switch, on the new shard.
    const atSwitch = [...progress]
    await waitFor(() => progress.every((p, i) => p >= (atSwitch[i] ?? 0) + 40), { timeout: 60_000 })
    for (const h of handles) await h.send('stop')
    const results = await Promise.all(handles.map((h) => h.result))
    await Promise.all(handles.map((h) => h.exited))

    const expected = ['-1', '0', '1', '2', '3']
      .flatMap((w) => {
        if (w === '-1') return Array.from({ length: 40 }, (_, i) => `${keys[i % keys.length]}/-1/${i}`)
        return (results[Number(w)]?.acked ?? []).map((seq) => `${keys[seq % keys.length]}/${w}/${seq}`)
      })
      .sort()
    expect(results.flatMap((r) => r.failed)).toEqual([])
    expect(await rowsOn(from, keys)).toEqual([])
    expect(await rowsOn(to, keys)).toEqual(expected)
    expect(await owners()).toEqual([to])
    expect(db.map.shardOf(keys[0] as string)).toBe(to)
    // The bucket's neighbour on the old shard did not move.
    expect((await rowsOn(from, [bystander])).length).toBe(10)
  })

  const steps: readonly MoveStep[] = ['planned', 'fenced', 'copied', 'released', 'switched']
  it.each(steps)(
    'killed (SIGKILL) after %s: the bucket stays readable and writable on exactly one shard, and a rerun completes the move',
    async (step) => {
      await waitFor(() => db.health().status === 'ok' || db.health().status === 'degraded')
      const from = db.map.shardOf(keys[0] as string)
      const to = from === 'b' ? 'c' : 'b'
      const handle = spawnWorker<MoveBucketResult>({
        script: mover,
        env: { ...env, BUCKET: String(bucket), TO: to, STOP_AT: step },
        timeoutMs: 60_000,
      })
      const reached = new Promise<void>((resolve) => {
        handle.onMessage((m) => {
          if ((m as { at?: string }).at === step) resolve()
        })
      })
      await Promise.race([
        reached,
        handle.exited.then((exit) => {
          throw new Error(`the mover exited before ${step}: ${JSON.stringify(exit)} ${handle.stderr}`)
        }),
      ])
      handle.kill('SIGKILL')
      await handle.exited

      // Usable: a write and a read through the router succeed, and the write is on exactly one shard.
      const tag = `kill-${step}`
      const seq = steps.indexOf(step)
      await db.query(`INSERT INTO ${T} (tenant_id, writer, seq) VALUES ($1, -2, $2)`, [keys[0], seq])
      const holding = []
      for (const shard of Object.keys(URLS)) {
        const rows = await admin(
          URLS[shard] as string,
          `SELECT 1 FROM ${T} WHERE tenant_id = $1 AND writer = -2 AND seq = $2`,
          [keys[0], seq],
        )
        if (rows.length > 0) holding.push(shard)
      }
      expect(holding, tag).toHaveLength(1)
      const read = await db.query(
        `SELECT count(*)::int AS n FROM ${T} WHERE tenant_id = $1 AND writer = -2`,
        [keys[0]],
      )
      expect(read.rows[0]?.n, tag).toBe(seq + 1)

      const rerun = spawnWorker<MoveBucketResult>({
        script: mover,
        env: { ...env, BUCKET: String(bucket), TO: to },
        timeoutMs: 60_000,
      })
      expect((await rerun.result).to).toBe(to)
      await rerun.exited
      await waitFor(() => db.map.shardOf(keys[0] as string) === to, { timeout: 5000 })
      expect(await rowsOn(from, keys), tag).toEqual([])
      expect((await rowsOn(to, keys)).filter((r) => r.includes('/-2/')).length, tag).toBe(seq + 1)
      expect(await owners(), tag).toEqual([to])
    },
  )
})

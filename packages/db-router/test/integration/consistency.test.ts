import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { requireServices, serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createDbRouter } from '../../src/index'
import type { DbLagEvent, DbNodeStateEvent, DbRouter } from '../../src/index'
import { admin, recordQueries, waitForReplay } from './helpers'

// Every test here that pauses or delays replay on the second replica (5435) lives in this one file,
// so they run one after another; each undoes its change in `finally`/afterEach.
const S = uniqueName('ryw')
const replica2 = serviceUrls.pgReplica2

async function pauseReplay(): Promise<void> {
  await admin(replica2, 'SELECT pg_wal_replay_pause()')
  await waitFor(
    async () =>
      (await admin<{ s: string }>(replica2, 'SELECT pg_get_wal_replay_pause_state() AS s'))[0]?.s ===
      'paused',
    {
      timeout: 10_000,
      message: 'replay paused on the second replica',
    },
  )
}

async function restoreReplica(): Promise<void> {
  await admin(replica2, 'SELECT pg_wal_replay_resume()').catch(() => undefined)
  await admin(replica2, 'ALTER SYSTEM RESET recovery_min_apply_delay').catch(() => undefined)
  await admin(replica2, 'SELECT pg_reload_conf()').catch(() => undefined)
}

describe('read-your-writes by LSN through a lagging replica', () => {
  let db: DbRouter

  beforeAll(async () => {
    await requireServices('pgPrimary', 'pgReplica2')
    await restoreReplica()
    await admin(
      serviceUrls.pgPrimary,
      `CREATE SCHEMA ${S}; CREATE TABLE ${S}.t (id serial PRIMARY KEY, v text)`,
    )
    await waitForReplay(serviceUrls.pgPrimary, replica2)
  })

  afterEach(async () => {
    await restoreReplica()
    await db.close()
  })

  afterAll(async () => {
    await restoreReplica()
    await admin(serviceUrls.pgPrimary, `DROP SCHEMA IF EXISTS ${S} CASCADE`)
  })

  it('replay paused: 1000 write-then-read rounds in a scope are never stale; resumed: reads return to the replica', async () => {
    // Only the paused replica, so every read that is not sent to the primary would be served by it.
    db = createDbRouter({ primary: serviceUrls.pgPrimary, replicas: [replica2], consistency: { maxWait: 0 } })
    await pauseReplay()
    const rec = recordQueries()
    let stale = 0
    let staleOutsideScope = 0
    try {
      // Control: outside a scope the replica really is stale (so the scope is what saves us).
      for (let i = 0; i < 5; i++) {
        const { rows } = await db.query<{ id: number }>(
          `INSERT INTO ${S}.t (v) VALUES ('control') RETURNING id`,
        )
        const read = await db.query(`SELECT v FROM ${S}.t WHERE id = $1`, [rows[0]?.id])
        if (read.rowCount === 0) staleOutsideScope += 1
      }
      for (let i = 0; i < 1000; i++) {
        await db.withConsistency(async () => {
          const { rows } = await db.query<{ id: number }>(`INSERT INTO ${S}.t (v) VALUES ($1) RETURNING id`, [
            `v${i}`,
          ])
          const read = await db.query<{ v: string }>(`SELECT v FROM ${S}.t WHERE id = $1`, [rows[0]?.id])
          if (read.rows[0]?.v !== `v${i}`) stale += 1
        })
      }
    } finally {
      rec.stop()
      await restoreReplica()
    }
    expect(staleOutsideScope).toBe(5)
    expect(stale).toBe(0)
    const scopedReads = rec.seen.filter((c) => c.classification === 'select').slice(5)
    expect(scopedReads).toHaveLength(1000)
    expect(scopedReads.every((c) => c.role === 'primary')).toBe(true)

    // Replay resumed: a write-then-read in a scope is served by the replica again once it caught up.
    const back = recordQueries()
    try {
      await waitFor(
        async () => {
          const before = back.seen.length
          await db.withConsistency(async () => {
            const { rows } = await db.query<{ id: number }>(
              `INSERT INTO ${S}.t (v) VALUES ('after') RETURNING id`,
            )
            await new Promise((resolve) => setTimeout(resolve, 50))
            const read = await db.query<{ v: string }>(`SELECT v FROM ${S}.t WHERE id = $1`, [rows[0]?.id])
            expect(read.rows[0]?.v).toBe('after')
          })
          return back.seen.slice(before).some((c) => c.classification === 'select' && c.role === 'replica')
        },
        { timeout: 30_000, message: 'a scoped read served by the replica after resume' },
      )
    } finally {
      back.stop()
    }
  })

  it('waits for the replica when it is only slightly behind (recovery_min_apply_delay), instead of going to the primary', async () => {
    db = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [replica2],
      consistency: { maxWait: 10_000, pollInterval: 20 },
    })
    await admin(replica2, "ALTER SYSTEM SET recovery_min_apply_delay = '700ms'")
    await admin(replica2, 'SELECT pg_reload_conf()')
    await waitFor(
      async () =>
        (await admin<{ d: string }>(replica2, 'SHOW recovery_min_apply_delay'))[0]?.[
          'recovery_min_apply_delay' as 'd'
        ] === '700ms',
      {
        timeout: 10_000,
        message: 'delay applied',
      },
    )
    const rec = recordQueries()
    try {
      await db.withConsistency(async () => {
        const { rows } = await db.query<{ id: number }>(
          `INSERT INTO ${S}.t (v) VALUES ('delayed') RETURNING id`,
        )
        const read = await db.query<{ v: string; rec: boolean }>(
          `SELECT v, pg_is_in_recovery() AS rec FROM ${S}.t WHERE id = $1`,
          [rows[0]?.id],
        )
        expect(read.rows[0]).toEqual({ v: 'delayed', rec: true })
      })
    } finally {
      rec.stop()
      await restoreReplica()
    }
    const read = rec.seen.find((c) => c.classification === 'select')
    expect(read?.role).toBe('replica')
    expect(read?.consistencyWaitMs ?? 0).toBeGreaterThan(100)
  })

  it('a token carried out of the scope (a queue message, another service) gives the same guarantee', async () => {
    db = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [replica2],
      consistency: { maxWait: 0, secret: 'x'.repeat(32) },
    })
    await pauseReplay()
    try {
      const token = await db.withConsistency(async (scope) => {
        await db.query(`INSERT INTO ${S}.t (v) VALUES ('carried')`)
        return scope.token()
      })
      expect(token).toMatch(/^1\.[0-9a-f]+\.[A-Za-z0-9_-]{43}$/)
      const seen = await db.withConsistency(token, async () =>
        db.query(`SELECT count(*)::int AS n FROM ${S}.t WHERE v = 'carried'`),
      )
      expect(seen.rows[0]).toEqual({ n: 1 })
      await expect(db.withConsistency(`${token ?? ''}x`, () => 1)).rejects.toMatchObject({
        code: 'ERR_DB_INVALID_TOKEN',
      })
      expect(db.isValidToken('1.ffff')).toBe(false)
    } finally {
      await restoreReplica()
    }
  })

  it('a committed transaction and a released session advance the scope too', async () => {
    db = createDbRouter({ primary: serviceUrls.pgPrimary, replicas: [replica2], consistency: { maxWait: 0 } })
    await pauseReplay()
    try {
      await db.withConsistency(async () => {
        const id = await db.transaction(
          async (tx) =>
            (await tx.query<{ id: number }>(`INSERT INTO ${S}.t (v) VALUES ('in-tx') RETURNING id`)).rows[0]
              ?.id,
        )
        const read = await db.query<{ v: string }>(`SELECT v FROM ${S}.t WHERE id = $1`, [id])
        expect(read.rows[0]?.v).toBe('in-tx')
        const client = await db.connect()
        const sid = (
          await client.query<{ id: number }>(`INSERT INTO ${S}.t (v) VALUES ('in-session') RETURNING id`)
        ).rows[0]?.id
        client.release()
        const again = await db.query<{ v: string }>(`SELECT v FROM ${S}.t WHERE id = $1`, [sid])
        expect(again.rows[0]?.v).toBe('in-session')
      })
    } finally {
      await restoreReplica()
    }
  })

  it('a replica over the lag threshold is excluded, and readmitted once back under it (hysteresis)', async () => {
    db = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [replica2],
      health: { interval: 100, timeout: 5000, maxLagBytes: 256 * 1024, maxLagSeconds: 1e6, fall: 2, rise: 2 },
    })
    const events: DbNodeStateEvent[] = []
    const onState = (e: unknown): void => {
      events.push(e as DbNodeStateEvent)
    }
    const lags: DbLagEvent[] = []
    const onLag = (e: unknown): void => {
      lags.push(e as DbLagEvent)
    }
    subscribe('scalekit:db-router:node-state', onState)
    subscribe('scalekit:db-router:lag', onLag)
    try {
      await db.checkHealth()
      expect(db.health().replicas[0]?.state).toBe('up')
      await pauseReplay()
      // ~1 MB of WAL the paused replica does not replay.
      await admin(
        serviceUrls.pgPrimary,
        `INSERT INTO ${S}.t (v) SELECT repeat('x', 1000) FROM generate_series(1, 1000)`,
      )
      await waitFor(() => db.health().replicas[0]?.state === 'lagging', {
        timeout: 15_000,
        message: 'replica excluded for lag',
      })
      expect(db.health().replicas[0]?.lagBytes ?? 0).toBeGreaterThan(256 * 1024)
      const rec = recordQueries()
      const { rows } = await db.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')
      rec.stop()
      expect(rows[0]?.rec).toBe(false)
      expect(rec.seen[0]?.reason).toBe('no-replica')
      await restoreReplica()
      await waitFor(() => db.health().replicas[0]?.state === 'up', {
        timeout: 15_000,
        message: 'replica readmitted',
      })
      const again = await db.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')
      expect(again.rows[0]?.rec).toBe(true)
    } finally {
      unsubscribe('scalekit:db-router:node-state', onState)
      unsubscribe('scalekit:db-router:lag', onLag)
      await restoreReplica()
    }
    expect(
      lags.some(
        (l) =>
          l.node === 'replica-0' &&
          (l.lagBytes ?? 0) > 256 * 1024 &&
          /^[0-9A-F]+\/[0-9A-F]+$/.test(l.replayLsn),
      ),
    ).toBe(true)
    const mine = events.filter((e) => e.node === 'replica-0')
    expect(mine.map((e) => `${e.from}>${e.to}:${e.reason}`)).toEqual([
      'up>lagging:lag',
      'lagging>up:caught-up',
    ])
  })
})

import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import pg from 'pg'
import { requireServices, serviceUrls, startFaultProxy, uniqueName, waitFor } from '@scalekit/test-utils'
import type { FaultProxy } from '@scalekit/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDbRouter, DbPrimaryReadOnlyError, DbTimeoutError } from '../../src/index'
import type { DbNodeStateEvent, DbRouter } from '../../src/index'
import { admin, recordQueries, waitForReplay } from './helpers'
import { startThrowawayReplica } from './throwaway-replica'
import type { ThrowawayReplica } from './throwaway-replica'

const S = uniqueName('failover')

/** Reads in `concurrency` loops until `stop()`; counts failures and where reads ran. */
function readLoad(db: DbRouter, concurrency = 4): { stop(): Promise<{ ok: number; failed: unknown[] }> } {
  let running = true
  let ok = 0
  const failed: unknown[] = []
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      try {
        await db.query(`SELECT count(*) FROM ${S}.t`)
        ok += 1
      } catch (error) {
        failed.push(error)
      }
    }
  })
  return {
    stop: async () => {
      running = false
      await Promise.all(loops)
      return { ok, failed }
    },
  }
}

describe('failure behaviour', () => {
  let own: ThrowawayReplica | undefined

  beforeAll(async () => {
    await requireServices('pgPrimary', 'pgReplica')
    await admin(
      serviceUrls.pgPrimary,
      `CREATE SCHEMA ${S}; CREATE TABLE ${S}.t (id serial PRIMARY KEY, v text); INSERT INTO ${S}.t (v) VALUES ('a');
      CREATE FUNCTION ${S}.writer() RETURNS int LANGUAGE sql AS 'INSERT INTO ${S}.t (v) VALUES (''w'') RETURNING id'`,
    )
    await waitForReplay(serviceUrls.pgPrimary, serviceUrls.pgReplica)
  })

  afterAll(async () => {
    await own?.destroy()
    await admin(serviceUrls.pgPrimary, `DROP SCHEMA IF EXISTS ${S} CASCADE`)
  })

  it('a replica killed mid-load (real kill of a private replica): no read fails; restarted: used again', async () => {
    own = await startThrowawayReplica()
    await waitForReplay(serviceUrls.pgPrimary, own.url)
    const db = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [
        { source: own.url, name: 'own' },
        { source: serviceUrls.pgReplica, name: 'shared' },
      ],
      balance: 'round-robin',
      health: { interval: 200, timeout: 1000 },
    })
    try {
      const load = readLoad(db)
      await waitFor(() => db.health().replicas.every((r) => r.ewmaMs > 0), {
        timeout: 10_000,
        message: 'both replicas served reads',
      })
      await own.kill()
      await waitFor(() => db.health().replicas[0]?.state === 'down', {
        timeout: 15_000,
        message: 'killed replica marked down',
      })
      await new Promise((resolve) => setTimeout(resolve, 500))
      const during = await load.stop()
      expect(during.failed).toEqual([])
      expect(during.ok).toBeGreaterThan(0)

      await own.start()
      await waitFor(() => db.health().replicas[0]?.state === 'up', {
        timeout: 30_000,
        message: 'restarted replica readmitted',
      })
      const rec = recordQueries()
      try {
        for (let i = 0; i < 10; i++) await db.query(`SELECT count(*) FROM ${S}.t`)
      } finally {
        rec.stop()
      }
      expect(rec.seen.filter((c) => c.node === 'own').length).toBeGreaterThan(0)
    } finally {
      await db.close()
    }
  })

  it('a replica cut at the wire (fault proxy: reset, then refuse) mid-load: no read fails; healed: readmitted', async () => {
    let proxy: FaultProxy | undefined
    proxy = await startFaultProxy({ target: serviceUrls.pgReplica })
    const db = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [{ source: proxy.url(serviceUrls.pgReplica), name: 'proxied' }],
      health: { interval: 200, timeout: 1000 },
    })
    try {
      const load = readLoad(db)
      await waitFor(() => (db.health().replicas[0]?.ewmaMs ?? 0) > 0, {
        timeout: 10_000,
        message: 'replica served reads',
      })
      proxy.reset()
      await proxy.refuse()
      await waitFor(() => db.health().replicas[0]?.state === 'down', {
        timeout: 15_000,
        message: 'cut replica marked down',
      })
      const during = await load.stop()
      expect(during.failed).toEqual([])
      await proxy.heal()
      await waitFor(() => db.health().replicas[0]?.usable, {
        timeout: 15_000,
        message: 'healed replica readmitted',
      })
      const { rows } = await db.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')
      expect(rows[0]?.rec).toBe(true)
    } finally {
      await db.close()
      await proxy.close()
      proxy = undefined
    }
  })

  it('a replica that stops answering (blackholed): the read times out with ERR_DB_TIMEOUT, its connection is closed, the read is served elsewhere', async () => {
    const proxy = await startFaultProxy({ target: serviceUrls.pgReplica })
    const replica = new pg.Pool({ connectionString: proxy.url(serviceUrls.pgReplica) })
    replica.on('error', () => undefined)
    const db = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [{ source: replica, name: 'silent' }],
      health: { interval: 3_600_000 },
      timeouts: { query: 300 },
    })
    try {
      await db.checkHealth()
      await db.replicas[0]!.query(`SELECT count(*) FROM ${S}.t`)
      const connections = replica.totalCount
      expect(connections).toBeGreaterThan(0)
      proxy.blackhole()

      // On the node itself: a coded timeout, and the connection that hung is closed (not returned to the pool).
      const started = performance.now()
      const error = await db.replicas[0]!.query(`SELECT count(*) FROM ${S}.t`).catch((e: unknown) => e)
      const waited = performance.now() - started
      expect(error).toBeInstanceOf(DbTimeoutError)
      expect((error as DbTimeoutError).code).toBe('ERR_DB_TIMEOUT')
      expect(waited).toBeGreaterThanOrEqual(250)
      expect(waited).toBeLessThan(3_000)
      expect(replica.totalCount).toBe(connections - 1)

      // Through routing: the read that timed out on the replica is retried on the primary.
      const rec = recordQueries()
      try {
        const { rows } = await db.query<{ rec: boolean }>(
          `SELECT pg_is_in_recovery() AS rec FROM ${S}.t LIMIT 1`,
        )
        expect(rows[0]?.rec).toBe(false)
      } finally {
        rec.stop()
      }
      expect(rec.seen.map((c) => c.node)).toEqual(['silent', 'primary'])
      expect(rec.seen[0]?.errorCode).toBe('ERR_DB_TIMEOUT')
    } finally {
      await db.close()
      await proxy.close()
      await replica.end()
    }
  })

  it('no usable replica: reads go to the primary within the fallback budget, then fail with ERR_DB_NO_REPLICA', async () => {
    const proxy = await startFaultProxy({ target: serviceUrls.pgReplica })
    await proxy.refuse()
    const dead = proxy.url(serviceUrls.pgReplica)
    const budget = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [dead],
      fallback: { maxPerSecond: 1 },
      health: { interval: 60_000 },
    })
    const strict = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [dead],
      fallback: { toPrimary: false },
      health: { interval: 60_000 },
    })
    const fallbacks: unknown[] = []
    const onFallback = (e: unknown): void => {
      fallbacks.push(e)
    }
    subscribe('scalekit:db-router:fallback', onFallback)
    try {
      const first = await budget.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')
      expect(first.rows[0]?.rec).toBe(false)
      await expect(budget.query('SELECT 1')).rejects.toMatchObject({ code: 'ERR_DB_NO_REPLICA' })
      await expect(strict.query('SELECT 1')).rejects.toMatchObject({ code: 'ERR_DB_NO_REPLICA' })
      // Writes are unaffected.
      await expect(strict.query(`INSERT INTO ${S}.t (v) VALUES ('still writes')`)).resolves.toMatchObject({
        rowCount: 1,
      })
    } finally {
      unsubscribe('scalekit:db-router:fallback', onFallback)
      await budget.close()
      await strict.close()
      await proxy.close()
    }
    expect(fallbacks).toEqual([
      { reason: 'no-replica', outcome: 'primary' },
      { reason: 'no-replica', outcome: 'error' },
      { reason: 'no-replica', outcome: 'error' },
    ])
  })

  it('primary down: writes fail with ERR_DB_PRIMARY_UNAVAILABLE, then fast once its breaker opens; reads keep using replicas', async () => {
    const proxy = await startFaultProxy({ target: serviceUrls.pgPrimary })
    await proxy.refuse()
    const db = createDbRouter({
      primary: proxy.url(serviceUrls.pgPrimary),
      replicas: [serviceUrls.pgReplica],
      breaker: { volumeThreshold: 3, resetTimeout: 60_000 },
      health: { interval: 60_000 },
    })
    try {
      for (let i = 0; i < 3; i++) {
        await expect(db.query(`INSERT INTO ${S}.t (v) VALUES ('lost')`)).rejects.toMatchObject({
          code: 'ERR_DB_PRIMARY_UNAVAILABLE',
        })
      }
      expect(db.health().primary.breakerOpen).toBe(true)
      const rec = recordQueries()
      await expect(db.query(`INSERT INTO ${S}.t (v) VALUES ('lost')`)).rejects.toMatchObject({
        code: 'ERR_DB_PRIMARY_UNAVAILABLE',
      })
      rec.stop()
      expect(rec.seen).toEqual([]) // refused without an attempt
      const { rows } = await db.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')
      expect(rows[0]?.rec).toBe(true)
    } finally {
      await db.close()
      await proxy.close()
    }
  })

  it('a promoted replica is detected; no write ever lands on it', async () => {
    own ??= await startThrowawayReplica()
    await waitForReplay(serviceUrls.pgPrimary, own.url, 30_000)
    // A long interval: the promotion is not detected by a check before the misclassified write below.
    const db = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [{ source: own.url, name: 'own' }],
      health: { interval: 60_000, fall: 1, rise: 1 },
      // A mistake on purpose: a writing function declared a read. The replica's read-only session still refuses it.
      classification: { readFunctions: [`${S}.writer`] },
    })
    const events: DbNodeStateEvent[] = []
    const onState = (e: unknown): void => {
      events.push(e as DbNodeStateEvent)
    }
    subscribe('scalekit:db-router:node-state', onState)
    try {
      await db.checkHealth()
      expect(db.health().replicas[0]?.state).toBe('up')
      await own.promote()
      await waitFor(
        async () =>
          (await admin<{ r: boolean }>(own!.url, 'SELECT pg_is_in_recovery() AS r'))[0]?.r === false,
        {
          timeout: 30_000,
          message: 'promoted',
        },
      )
      const rec = recordQueries()
      const { rows } = await db.query<{ id: number }>(`SELECT ${S}.writer() AS id`)
      rec.stop()
      // Tried on the (promoted, not yet detected) replica, refused there (read-only session: 25006), done on the primary.
      expect(rec.seen.map((c) => `${c.node}:${c.reason}`)).toEqual(['own:read', 'primary:read-only-retry'])
      const onPrimary = await admin(serviceUrls.pgPrimary, `SELECT 1 FROM ${S}.t WHERE id = $1`, [
        rows[0]?.id,
      ])
      expect(onPrimary).toHaveLength(1)
      const onPromoted = await admin(own.url, `SELECT 1 FROM ${S}.t WHERE v = 'w'`)
      expect(onPromoted).toHaveLength(0)
      // Learned: the same statement now goes straight to the primary.
      const again = recordQueries()
      await db.query(`SELECT ${S}.writer() AS id`)
      again.stop()
      expect(again.seen.map((c) => c.node)).toEqual(['primary'])

      await db.checkHealth()
      expect(db.health().replicas[0]?.state).toBe('promoted')
      expect(
        events.some((e) => e.node === 'own' && e.to === 'promoted' && e.reason === 'not-in-recovery'),
      ).toBe(true)
      const read = await db.query<{ rec: boolean; port: number }>(
        'SELECT pg_is_in_recovery() AS rec, inet_server_port() AS port',
      )
      expect(read.rows[0]?.port).toBe(Number(new URL(serviceUrls.pgPrimary).port))
    } finally {
      unsubscribe('scalekit:db-router:node-state', onState)
      await db.close()
      await own.destroy()
      own = undefined
    }
  })

  it('a "primary" that is in recovery is detected: writes are refused without being sent', async () => {
    // Misconfiguration or a demoted primary: point the primary at a standby.
    const db = createDbRouter({ primary: serviceUrls.pgReplica, health: { interval: 60_000 } })
    try {
      await db.checkHealth()
      expect(db.health().primary.state).toBe('read-only')
      const rec = recordQueries()
      await expect(db.query(`INSERT INTO ${S}.t (v) VALUES ('never')`)).rejects.toBeInstanceOf(
        DbPrimaryReadOnlyError,
      )
      await expect(db.transaction(async (tx) => tx.query('SELECT 1'))).rejects.toMatchObject({
        code: 'ERR_DB_PRIMARY_READ_ONLY',
      })
      await expect(db.connect()).rejects.toMatchObject({ code: 'ERR_DB_PRIMARY_READ_ONLY' })
      rec.stop()
      expect(rec.seen).toEqual([])
      // Reads still work there.
      const { rows } = await db.query<{ rec: boolean }>('SELECT pg_is_in_recovery() AS rec')
      expect(rows[0]?.rec).toBe(true)
    } finally {
      await db.close()
    }
    // Before the first check it is found out by the refusal itself, and nothing is applied.
    const fresh = createDbRouter({ primary: serviceUrls.pgReplica, health: { interval: 60_000 } })
    try {
      await expect(fresh.query(`INSERT INTO ${S}.t (v) VALUES ('never')`)).rejects.toMatchObject({
        code: 'ERR_DB_PRIMARY_READ_ONLY',
      })
      expect(fresh.health().primary.state).toBe('read-only')
    } finally {
      await fresh.close()
    }
    expect(await admin(serviceUrls.pgPrimary, `SELECT 1 FROM ${S}.t WHERE v = 'never'`)).toHaveLength(0)
  })
})

import { requireServices, serviceUrls, uniqueName, waitFor } from '@scalekit/test-utils'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDbRouter } from '../../src/index'
import type { DbRouter, Logger } from '../../src/index'
import { parseLsn } from '../../src/internal/lsn'
import { admin, recordQueries, waitForReplay } from './helpers'
import { startThrowawayReplica } from './throwaway-replica'
import type { ThrowawayReplica } from './throwaway-replica'

const S = uniqueName('lag')
const FORGED = '1.ffffffffffffffff'

/** One write-then-read in a scope; the read must see the write. */
async function writeThenRead(db: DbRouter, v: string): Promise<void> {
  await db.withConsistency(async () => {
    const { rows } = await db.query<{ id: number }>(`INSERT INTO ${S}.t (v) VALUES ($1) RETURNING id`, [v])
    const read = await db.query<{ v: string }>(`SELECT v FROM ${S}.t WHERE id = $1`, [rows[0]?.id])
    expect(read.rows[0]?.v).toBe(v)
  })
}

describe('scoped reads: steady replica lag, forged tokens and the fallback budget (issue 12, defects 13 and 14)', () => {
  // A private replica whose replay runs 500 ms behind the primary, as a steadily lagging replica does.
  let delayed: ThrowawayReplica

  beforeAll(async () => {
    await requireServices('pgPrimary', 'pgReplica')
    await admin(
      serviceUrls.pgPrimary,
      `CREATE SCHEMA ${S}; CREATE TABLE ${S}.t (id serial PRIMARY KEY, v text)`,
    )
    delayed = await startThrowawayReplica({ recovery_min_apply_delay: '500ms' })
    await waitForReplay(serviceUrls.pgPrimary, delayed.url, 30_000)
  })

  afterAll(async () => {
    await delayed.destroy()
    await admin(serviceUrls.pgPrimary, `DROP SCHEMA IF EXISTS ${S} CASCADE`)
  })

  it('a replica 500 ms behind with maxWait 200 ms: scoped reads go to the primary at once (reason lag), not after the wait', async () => {
    const db = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [delayed.url],
      health: { interval: 100 },
      consistency: { maxWait: 200 },
    })
    const rec = recordQueries()
    try {
      await db.checkHealth()
      for (let i = 0; i < 40; i++) await writeThenRead(db, `lag-${i}`)
    } finally {
      rec.stop()
      await db.close()
    }
    const reads = rec.seen.filter((c) => c.classification === 'select')
    expect(reads).toHaveLength(40)
    const byReason = (reason: string): number => reads.filter((c) => c.reason === reason).length
    // At most the first few wait (until the wait in vain and the checks measure the lag); the rest
    // go to the primary without waiting.
    expect(byReason('consistency')).toBeLessThanOrEqual(4)
    expect(byReason('lag')).toBeGreaterThanOrEqual(36)
    expect(reads.filter((c) => c.reason === 'lag').every((c) => c.role === 'primary')).toBe(true)
    expect(reads.filter((c) => c.reason === 'lag').every((c) => c.consistencyWaitMs === undefined)).toBe(true)
  })

  it('the same replica with maxWait 2 s: the lag is within the budget, so scoped reads wait for it', async () => {
    const db = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [delayed.url],
      health: { interval: 100 },
      consistency: { maxWait: '2s' },
    })
    const rec = recordQueries()
    try {
      await db.checkHealth()
      for (let i = 0; i < 3; i++) await writeThenRead(db, `wait-${i}`)
    } finally {
      rec.stop()
      await db.close()
    }
    const reads = rec.seen.filter((c) => c.classification === 'select')
    expect(reads.map((c) => c.role)).toEqual(['replica', 'replica', 'replica'])
  })

  it(`a forged token (${FORGED}) is clamped to the primary's own position: the read is served by a replica, with a warning`, async () => {
    const warnings: Record<string, unknown>[] = []
    const logger: Logger = {
      warn: (obj) => {
        warnings.push(obj as Record<string, unknown>)
      },
    }
    const db = createDbRouter({ primary: serviceUrls.pgPrimary, replicas: [serviceUrls.pgReplica], logger })
    const rec = recordQueries()
    let token: string | undefined
    try {
      await db.checkHealth()
      token = await db.withConsistency(FORGED, async (scope) => {
        await db.query('SELECT 1 AS one')
        return scope.token()
      })
    } finally {
      rec.stop()
      await db.close()
    }
    expect(rec.seen.map((c) => c.role)).toEqual(['replica'])
    const [primaryNow] = await admin<{ lsn: string }>(
      serviceUrls.pgPrimary,
      'SELECT pg_current_wal_insert_lsn()::text AS lsn',
    )
    const clamped = BigInt(`0x${token?.split('.')[1] ?? '0'}`)
    expect(clamped).toBeLessThanOrEqual(parseLsn(primaryNow?.lsn ?? '0/0'))
    expect(warnings).toContainEqual(expect.objectContaining({ code: 'ERR_DB_INVALID_TOKEN' }))
  })

  it('fallback.maxPerSecond holds for scoped reads no replica replayed (replay paused): the second and third fail with ERR_DB_NO_REPLICA', async () => {
    const db = createDbRouter({
      primary: serviceUrls.pgPrimary,
      replicas: [delayed.url],
      consistency: { maxWait: 0 },
      fallback: { maxPerSecond: 1 },
      health: { maxLagBytes: Number.MAX_SAFE_INTEGER, maxLagSeconds: 1e6 },
    })
    await admin(delayed.url, 'SELECT pg_wal_replay_pause()')
    const outcomes: string[] = []
    try {
      await waitFor(
        async () =>
          (await admin<{ s: string }>(delayed.url, 'SELECT pg_get_wal_replay_pause_state() AS s'))[0]?.s ===
          'paused',
        { timeout: 10_000, message: 'replay paused' },
      )
      await db.checkHealth()
      for (let i = 0; i < 3; i++) {
        outcomes.push(
          await writeThenRead(db, `budget-${i}`).then(
            () => 'read',
            (error: unknown) => (error as { code?: string }).code ?? 'error',
          ),
        )
      }
    } finally {
      await admin(delayed.url, 'SELECT pg_wal_replay_resume()')
      await db.close()
    }
    expect(outcomes).toEqual(['read', 'ERR_DB_NO_REPLICA', 'ERR_DB_NO_REPLICA'])
  })
})

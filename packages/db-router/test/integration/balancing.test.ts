import { requireServices, serviceUrls } from '@scalekit/test-utils'
import { beforeAll, describe, expect, it } from 'vitest'
import { createDbRouter } from '../../src/index'
import type { BalancePolicy } from '../../src/index'
import { recordQueries } from './helpers'

async function spread(
  balance: BalancePolicy,
  weights: [number, number],
  reads: number,
): Promise<Record<string, number>> {
  const db = createDbRouter({
    primary: serviceUrls.pgPrimary,
    replicas: [
      { source: serviceUrls.pgReplica, name: 'a', weight: weights[0] },
      { source: serviceUrls.pgReplica2, name: 'b', weight: weights[1] },
    ],
    balance,
    // Lag exclusion off for this test: the second replica may be paused by another file.
    health: { maxLagBytes: Number.MAX_SAFE_INTEGER, maxLagSeconds: 1e9 },
  })
  const rec = recordQueries()
  try {
    for (let i = 0; i < reads; i++) await db.query('SELECT 1 AS one')
  } finally {
    rec.stop()
    await db.close()
  }
  const out: Record<string, number> = {}
  for (const c of rec.seen) out[c.node] = (out[c.node] ?? 0) + 1
  return out
}

describe('reads spread across replicas per the policy', () => {
  beforeAll(async () => {
    await requireServices('pgPrimary', 'pgReplica', 'pgReplica2')
  })

  it('round-robin: even', async () => {
    expect(await spread('round-robin', [1, 1], 40)).toEqual({ a: 20, b: 20 })
  })

  it('weighted: by weight', async () => {
    expect(await spread('weighted', [3, 1], 40)).toEqual({ a: 30, b: 10 })
  })

  it('random and least-outstanding: every replica serves, nothing goes to the primary', async () => {
    for (const policy of ['random', 'least-outstanding'] as const) {
      const out = await spread(policy, [1, 1], 60)
      expect(out.primary).toBeUndefined()
      expect(Object.keys(out).sort()).toEqual(['a', 'b'])
    }
  })

  it('latency: all reads on replicas (one at a time, it may keep to the faster one)', async () => {
    const out = await spread('latency', [1, 1], 60)
    expect(out.primary).toBeUndefined()
    expect((out.a ?? 0) + (out.b ?? 0)).toBe(60)
  })
})

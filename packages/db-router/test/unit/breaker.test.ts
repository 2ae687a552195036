import type { Pool } from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { createDbRouter } from '../../src/index'
import type { BreakerStateEvent, DbRouter } from '../../src/index'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { fakePool } from './fake-pool'

const reset = (): Error => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })

/**
 * Every statement goes through its node's breaker (opossum's semantics, `@scalekit/internal`); only
 * connection errors and timeouts count as failures, and `volumeThreshold` is opossum's: calls in the
 * rolling window.
 */
describe('the breaker of a node', () => {
  let db: DbRouter | undefined
  afterEach(async () => {
    await db?.close()
    db = undefined
  })

  const build = (primary: Pool, volumeThreshold: number): DbRouter =>
    createDbRouter({
      primary,
      replicas: [],
      health: { interval: 3_600_000 },
      breaker: { volumeThreshold, errorThresholdPercentage: 50, resetTimeout: 60_000 },
    })

  it('two connection failures in a row open it at volumeThreshold 2, and it then fails fast', async () => {
    const primary = fakePool('primary', reset)
    db = build(primary, 2)
    await expect(db.query('INSERT INTO t VALUES (1)')).rejects.toMatchObject({
      code: 'ERR_DB_PRIMARY_UNAVAILABLE',
    })
    expect(db.health().primary.breakerOpen).toBe(false)
    await expect(db.query('INSERT INTO t VALUES (2)')).rejects.toMatchObject({
      code: 'ERR_DB_PRIMARY_UNAVAILABLE',
    })
    expect(db.health().primary.breakerOpen).toBe(true)
    // Open: refused without reaching the node.
    await expect(db.query('INSERT INTO t VALUES (3)')).rejects.toMatchObject({
      code: 'ERR_DB_PRIMARY_UNAVAILABLE',
    })
    expect(primary.texts).toEqual(['INSERT INTO t VALUES (1)', 'INSERT INTO t VALUES (2)'])
  })

  it('one failure among successes leaves it closed', async () => {
    let calls = 0
    const primary = fakePool('primary', () => (++calls === 1 ? reset() : { ok: true }))
    db = build(primary, 2)
    await expect(db.query('INSERT INTO t VALUES (0)')).rejects.toMatchObject({
      code: 'ERR_DB_PRIMARY_UNAVAILABLE',
    })
    for (let i = 1; i <= 10; i++) await db.query('INSERT INTO t VALUES ($1)', [i])
    expect(db.health().primary.breakerOpen).toBe(false)
    expect(primary.texts).toHaveLength(11)
  })

  it('SQL errors never count', async () => {
    const primary = fakePool('primary', () => Object.assign(new Error('duplicate key'), { code: '23505' }))
    db = build(primary, 2)
    for (let i = 0; i < 5; i++)
      await expect(db.query('INSERT INTO t VALUES (1)')).rejects.toMatchObject({ code: '23505' })
    expect(db.health().primary.breakerOpen).toBe(false)
    expect(primary.texts).toHaveLength(5)
  })

  it('publishes its state changes on scalekit:breaker:state', async () => {
    const seen: BreakerStateEvent[] = []
    const onState = (event: unknown): void => {
      seen.push(event as BreakerStateEvent)
    }
    subscribe('scalekit:breaker:state', onState)
    try {
      db = build(fakePool('primary', reset), 2)
      for (let i = 0; i < 2; i++)
        await expect(db.query('INSERT INTO t VALUES (1)')).rejects.toMatchObject({
          code: 'ERR_DB_PRIMARY_UNAVAILABLE',
        })
      expect(seen).toEqual([{ package: 'db-router', namespace: 'primary', state: 'open' }])
    } finally {
      unsubscribe('scalekit:breaker:state', onState)
    }
  })
})

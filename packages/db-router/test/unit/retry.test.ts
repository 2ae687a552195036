import { tracingChannel } from 'node:diagnostics_channel'
import type { Pool } from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { createDbRouter } from '../../src/index'
import type { DbQueryContext, DbRouter } from '../../src/index'
import { fakePool } from './fake-pool'

const sqlError = (code: string): Error => Object.assign(new Error(`sqlstate ${code}`), { code })

function record(): { seen: DbQueryContext[]; stop: () => void } {
  const seen: DbQueryContext[] = []
  const ch = tracingChannel<unknown, DbQueryContext>('scalekit:db-router:query')
  const h = {
    start: (c: DbQueryContext) => seen.push(c),
    end() {},
    asyncStart() {},
    asyncEnd() {},
    error() {},
  }
  ch.subscribe(h)
  return {
    seen,
    stop: () => {
      ch.unsubscribe(h)
    },
  }
}

describe('retry safety', () => {
  let db: DbRouter | undefined
  afterEach(async () => {
    await db?.close()
    db = undefined
  })

  const build = (primary: Pool, replicas: Pool[], extra: object = {}): DbRouter =>
    createDbRouter({
      primary,
      replicas: replicas.map((source, i) => ({ source, name: `r${i}` })),
      balance: 'round-robin',
      health: { interval: 3_600_000 },
      ...extra,
    })

  it.each([
    ['a recovery conflict (40001)', sqlError('40001')],
    ['a deadlock-style conflict (40P01)', sqlError('40P01')],
    ['a connection reset', sqlError('ECONNRESET')],
    ['a dropped connection', new Error('Connection terminated unexpectedly')],
  ])('a read failing with %s is retried on another replica', async (_name, failure) => {
    const primary = fakePool('primary', () => ({ from: 'primary' }))
    const bad = fakePool('replica', () => failure)
    const good = fakePool('replica', () => ({ from: 'good' }))
    db = build(primary, [bad, good])
    const rec = record()
    const result = await db.query('SELECT a FROM t')
    rec.stop()
    expect(result.rows).toEqual([{ from: 'good' }])
    expect(rec.seen.map((c) => `${c.node}:${c.reason}:${c.attempt}`)).toEqual(['r0:read:1', 'r1:retry:2'])
  })

  it('a connection error takes the replica out at once; a SQL error does not and is not retried', async () => {
    const primary = fakePool('primary', () => ({ from: 'primary' }))
    const replica = fakePool('replica', (text) =>
      text.includes('boom') ? sqlError('42P01') : sqlError('ECONNREFUSED'),
    )
    db = build(primary, [replica])
    await expect(db.query('SELECT boom FROM t')).rejects.toMatchObject({ code: '42P01' })
    expect(db.health().replicas[0]?.state).toBe('up')
    const result = await db.query('SELECT a FROM t')
    expect(result.rows).toEqual([{ from: 'primary' }])
    expect(db.health().replicas[0]?.state).toBe('down')
  })

  it('25006 on a replica: retried once on the primary, and the statement is remembered as a write', async () => {
    const primary = fakePool('primary', () => ({ from: 'primary' }))
    const replica = fakePool('replica', () => sqlError('25006'))
    db = build(primary, [replica])
    const rec = record()
    expect((await db.query('SELECT sneaky FROM v')).rows).toEqual([{ from: 'primary' }])
    expect((await db.query('SELECT sneaky FROM v')).rows).toEqual([{ from: 'primary' }])
    rec.stop()
    expect(rec.seen.map((c) => `${c.node}:${c.reason}`)).toEqual([
      'r0:read',
      'primary:read-only-retry',
      'primary:write',
    ])
    expect(replica.texts).toEqual(['SELECT sneaky FROM v'])
  })

  it('writes are never retried, even after a connection error', async () => {
    const primary = fakePool('primary', () => sqlError('ECONNRESET'))
    const replica = fakePool('replica', () => ({ from: 'replica' }))
    db = build(primary, [replica])
    await expect(db.query('INSERT INTO t VALUES (1)')).rejects.toMatchObject({
      code: 'ERR_DB_PRIMARY_UNAVAILABLE',
      cause: { code: 'ECONNRESET' },
    })
    expect(primary.texts).toEqual(['INSERT INTO t VALUES (1)'])
    expect(replica.texts).toEqual([])
  })

  it('gives up after maxReadAttempts', async () => {
    const primary = fakePool('primary', () => sqlError('40001'))
    const replicas = [0, 1, 2].map(() => fakePool('replica', () => sqlError('40001')))
    db = build(primary, replicas, { maxReadAttempts: 2 })
    await expect(db.query('SELECT a FROM t')).rejects.toMatchObject({ code: '40001' })
    const tries = replicas.map((r) => r.texts.length)
    expect(tries.reduce((a, b) => a + b, 0)).toBe(2)
    expect(Math.max(...tries)).toBe(1)
    expect(primary.texts).toEqual([])
  })
})

import pg from 'pg'
import type { Pool } from 'pg'
import { afterEach, describe, expect, it } from 'vitest'
import { createDbRouter, DbRouterArgumentError, DbRouterClosedError } from '../../src/index'
import type { DbRouter, DbRouterOptions, Logger } from '../../src/index'
import { fakePool } from './fake-pool'

const refused = (): Error => Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })
const never = (): Promise<never> => new Promise<never>(() => undefined)

/** A logger that keeps what it is given. */
function recorder(): Logger & { warnings: Record<string, unknown>[]; infos: Record<string, unknown>[] } {
  const warnings: Record<string, unknown>[] = []
  const infos: Record<string, unknown>[] = []
  return {
    warnings,
    infos,
    warn: (obj, msg) => warnings.push({ ...obj, msg }),
    info: (obj, msg) => infos.push({ ...obj, msg }),
  }
}

describe('close()', () => {
  it('lets calls finish within its timeout, rejects what is left with ERR_DB_CLOSED, refuses new calls, and returns one promise', async () => {
    const primary = fakePool('primary', (text) => (text.includes('hang') ? never() : { ok: true }))
    const db = createDbRouter({ primary, health: { interval: 3_600_000 } })
    await db.query('INSERT INTO t VALUES (1)')
    const quick = db.query('INSERT INTO t VALUES (2)')
    const stuck = db.query('INSERT INTO t VALUES (3) -- hang')
    const closing = db.close({ timeout: '20ms' })
    expect(db.close()).toBe(closing)
    await expect(closing).resolves.toBeUndefined()
    await expect(quick).resolves.toMatchObject({ rows: [{ ok: true }] })
    await expect(stuck).rejects.toBeInstanceOf(DbRouterClosedError)
    await expect(db.query('SELECT 1')).rejects.toMatchObject({ code: 'ERR_DB_CLOSED' })
    expect(db.health().status).toBe('closed')
    // The stuck session was closed (released with the error), so an owned pool could end.
    expect(primary.released.at(-1)).toBeInstanceOf(DbRouterClosedError)
  })

  it('refuses a bad timeout with ERR_DB_INVALID_ARGUMENT; `await using` closes', async () => {
    const db = createDbRouter({ primary: fakePool('primary', () => ({})), health: { interval: 3_600_000 } })
    await expect(db.close({ timeout: 'soon' as '1s' })).rejects.toBeInstanceOf(DbRouterArgumentError)
    await db[Symbol.asyncDispose]()
    expect(db.health().status).toBe('closed')
  })
})

describe('health()', () => {
  let db: DbRouter | undefined
  afterEach(async () => {
    await db?.close()
    db = undefined
  })

  const build = (primary: Pool, replicas: Pool[], extra: Partial<DbRouterOptions> = {}): DbRouter =>
    createDbRouter({
      primary,
      replicas: replicas.map((source, i) => ({ source, name: `r${i}` })),
      health: { interval: 3_600_000 },
      breaker: { volumeThreshold: 1, resetTimeout: 60_000 },
      ...extra,
    })

  it('is ok while every node is up, degraded with a replica out, down with the primary unreachable', async () => {
    let replicaUp = true
    let primaryUp = true
    db = build(
      fakePool('primary', () => (primaryUp ? { from: 'primary' } : refused())),
      [fakePool('replica', () => (replicaUp ? { from: 'replica' } : refused()))],
    )
    expect(db.health()).toMatchObject({
      status: 'ok',
      primary: { name: 'primary', state: 'up' },
      replicas: [{ name: 'r0', state: 'up', usable: true }],
    })
    replicaUp = false
    expect((await db.query('SELECT a FROM t')).rows).toEqual([{ from: 'primary' }])
    expect(db.health()).toMatchObject({ status: 'degraded', replicas: [{ state: 'down', usable: false }] })
    primaryUp = false
    for (let i = 0; i < 2; i++)
      await expect(db.query('INSERT INTO t VALUES (1)')).rejects.toMatchObject({
        code: 'ERR_DB_PRIMARY_UNAVAILABLE',
      })
    expect(db.health()).toMatchObject({ status: 'down', primary: { breakerOpen: true } })
    // checkHealth() returns the same shape, after a round of checks.
    expect(await db.checkHealth()).toMatchObject({ status: 'down', primary: { name: 'primary' } })
  })
})

describe('warnings', () => {
  it('one per episode through the logger, with a code and never SQL text or parameters', async () => {
    const logger = recorder()
    const db = createDbRouter({
      primary: fakePool('primary', () => ({ from: 'primary' })),
      replicas: [{ source: fakePool('replica', refused), name: 'r0' }],
      health: { interval: 3_600_000 },
      logger,
    })
    try {
      for (let i = 0; i < 5; i++) await db.query('SELECT secret FROM t WHERE v = $1', ['p4ssw0rd'])
      expect(logger.warnings.map((w) => w.code)).toEqual(['ERR_DB_NODE_DOWN', 'ERR_DB_NO_REPLICA'])
      expect(logger.warnings[0]).toMatchObject({
        package: '@scalekit/db-router',
        node: 'r0',
        to: 'down',
        reason: 'connection-error',
      })
      const logged = JSON.stringify(logger.warnings)
      expect(logged).not.toContain('p4ssw0rd')
      expect(logged).not.toContain('SELECT')
    } finally {
      await db.close()
    }
  })

  it('refuses a logger without warn() at construction', () => {
    expect(() => createDbRouter({ primary: fakePool('primary', () => ({})), logger: {} as Logger })).toThrow(
      expect.objectContaining({ code: 'ERR_DB_INVALID_OPTIONS' }),
    )
  })
})

describe('what the app passed in', () => {
  it('a pg.Pool given as a replica or primary is not changed: same settings, same listeners', async () => {
    const url = 'postgres://postgres@127.0.0.1:1/none?options=-c%20search_path%3Dpublic'
    const primary = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none' })
    const replica = new pg.Pool({ connectionString: url, options: '-c work_mem=4MB' })
    const before = [primary, replica].map((p) => ({
      options: JSON.stringify(p.options),
      listeners: p.eventNames().map((e) => `${String(e)}:${p.listenerCount(e)}`),
    }))
    const db = createDbRouter({ primary, replicas: [replica] })
    await db.close()
    const after = [primary, replica].map((p) => ({
      options: JSON.stringify(p.options),
      listeners: p.eventNames().map((e) => `${String(e)}:${p.listenerCount(e)}`),
    }))
    expect(after).toEqual(before)
    await primary.end()
    await replica.end()
  })

  it('connect() hands out the pool session itself, its release() untouched, also in a consistency scope', async () => {
    const primary = fakePool('primary', () => ({ lsn: '0/200', seg: '16777216', blk: '8192' }))
    const db = createDbRouter({ primary, health: { interval: 3_600_000 } })
    try {
      const [outside, inside] = [await db.connect(), await db.withConsistency(() => db.connect())]
      // Compared by identity, never called through these references.
      const releaseOf = (client: object): unknown => Reflect.get(client, 'release')
      const ownRelease = releaseOf(await primary.connect())
      expect(releaseOf(outside)).toBe(ownRelease)
      expect(releaseOf(inside)).toBe(ownRelease)
    } finally {
      await db.close()
    }
  })
})

describe('transaction control through db.query()', () => {
  it('is refused with ERR_DB_INVALID_ARGUMENT before anything is sent, also repeated (cached), and never opens a breaker', async () => {
    const primary = fakePool('primary', () => ({ ok: true }))
    const replica = fakePool('replica', () => ({ ok: true }))
    const db = createDbRouter({
      primary,
      replicas: [{ source: replica, name: 'r0' }],
      health: { interval: 3_600_000 },
      breaker: { volumeThreshold: 1 },
    })
    try {
      for (let i = 0; i < 10; i += 1) {
        for (const sql of ['BEGIN', 'COMMIT', 'SAVEPOINT s1', 'BEGIN; UPDATE t SET a = 1']) {
          await expect(db.query(sql)).rejects.toBeInstanceOf(DbRouterArgumentError)
          await expect(db.query(sql, [], { role: 'primary' })).rejects.toMatchObject({
            code: 'ERR_DB_INVALID_ARGUMENT',
          })
          await expect(db.primary.query(sql)).rejects.toMatchObject({ code: 'ERR_DB_INVALID_ARGUMENT' })
        }
      }
      await expect(db.query('ROLLBACK TO s1')).rejects.toThrow(/ROLLBACK TO SAVEPOINT.*db\.transaction\(\)/)
      expect(primary.texts).toEqual([])
      expect(replica.texts).toEqual([])
      expect(db.health().primary.breakerOpen).toBe(false)
      await expect(db.query('INSERT INTO t VALUES (1)')).resolves.toMatchObject({ rows: [{ ok: true }] })
    } finally {
      await db.close()
    }
  })
})

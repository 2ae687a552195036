import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { createDbRouter, DbRouterArgumentError, DbRouterOptionsError, defaults } from '../../src/index'
import type { DbRouterOptions } from '../../src/index'
import { resolveOptions } from '../../src/options'
import { normalizeQueryArgs, roleOf } from '../../src/internal/query-args'

const primary = 'postgres://postgres@127.0.0.1:1/none'

describe('options', () => {
  it('resolves every default from one object', () => {
    const r = resolveOptions({ primary })
    expect(r.balance).toBe(defaults.balance)
    expect(r.consistency).toEqual({ maxWait: 200, pollInterval: 10, secret: undefined })
    expect(r.health).toEqual(defaults.health)
    expect(r.fallback).toEqual(defaults.fallback)
    expect(r.timeouts).toEqual(defaults.timeouts)
    expect(r.breaker).toEqual(defaults.breaker)
    expect(r.maxReadAttempts).toBe(3)
    expect(
      resolveOptions({ primary, health: { interval: '2s' }, timeouts: { query: '500ms' } }).health.interval,
    ).toBe(2000)
  })

  it.each<[string, Partial<DbRouterOptions>]>([
    ['balance', { balance: 'fastest' as 'random' }],
    ['consistency.secret', { consistency: { secret: 'short' } }],
    ['consistency.maxWait', { consistency: { maxWait: -1 } }],
    ['health.interval', { health: { interval: 0 } }],
    ['health.fall', { health: { fall: 0 } }],
    ['health.maxLagBytes', { health: { maxLagBytes: -5 } }],
    ['health.readmitRatio', { health: { readmitRatio: 2 } }],
    ['fallback.maxPerSecond', { fallback: { maxPerSecond: -1 } }],
    ['timeouts.query', { timeouts: { query: '5 minutes' as '5m' } }],
    ['breaker.errorThresholdPercentage', { breaker: { errorThresholdPercentage: 0 } }],
    ['classification.writeFunctions', { classification: { writeFunctions: [''] } }],
    ['maxReadAttempts', { maxReadAttempts: 1.5 }],
  ])('refuses a bad %s at construction with ERR_DB_INVALID_OPTIONS', (name, bad) => {
    expect(() => createDbRouter({ primary, ...bad })).toThrow(DbRouterOptionsError)
    expect(() => createDbRouter({ primary, ...bad })).toThrow(name)
  })

  it.each<[string, string, unknown]>([
    ['an empty primary (an unset DATABASE_URL)', 'primary is an empty string', { primary: '' }],
    ['no primary at all', 'primary must be a connection URL', {}],
    ['a bare host name', 'primary must be a connection URL like postgres://', { primary: 'localhost' }],
    ['a host:port', 'primary must be a PostgreSQL URL', { primary: 'localhost:5432' }],
    ['not a URL', 'primary must be a connection URL', { primary: 'not a url' }],
    ['another database', 'got a mysql:// URL', { primary: 'mysql://root:secret@db/app' }],
    ['a config with a bad URL', 'primary.connectionString', { primary: { connectionString: 'db.local' } }],
    [
      'an unset replica URL',
      'replicas[0] must be a connection URL, a pg.Pool or a PoolConfig, got undefined — is the environment variable',
      { primary, replicas: [undefined] },
    ],
    ['a replica host name', 'replicas[1] must be', { primary, replicas: [primary, 'replica.local'] }],
    [
      'a replica ref with pool settings beside it',
      'replicas[0].max is not an option',
      { primary, replicas: [{ source: primary, max: 3 }] },
    ],
    ['replicas not an array', 'replicas must be an array (use [] for none)', { primary, replicas: primary }],
    [
      "fallback.toPrimary: 'no'",
      'fallback.toPrimary must be true or false, got "no"',
      { primary, fallback: { toPrimary: 'no' } },
    ],
    [
      "lookupFunctions: 'no'",
      'classification.lookupFunctions must be true or false',
      { primary, classification: { lookupFunctions: 'no' } },
    ],
    [
      'a misspelled option',
      'replica is not an option; known: primary, replicas',
      { primary, replica: [primary] },
    ],
    [
      'a misspelled group member',
      'consistency.maxwait is not an option (did you mean maxWait?)',
      { primary, consistency: { maxwait: 5 } },
    ],
    ['a group that is not an object', 'health must be an object', { primary, health: 'fast' }],
    [
      'an empty key list',
      'consistency.secret must hold at least one key',
      { primary, consistency: { secret: [] } },
    ],
    [
      'a short rotated key',
      'consistency.secret[1] must be a string or bytes of at least 32 bytes',
      { primary, consistency: { secret: ['k'.repeat(32), 'short'] } },
    ],
    ['a logger without warn', 'logger must have a warn', { primary, logger: { info: () => undefined } }],
    [
      'a logger with a non-function level',
      'logger.info must be a function',
      { primary, logger: { warn: () => undefined, info: 'yes' } },
    ],
  ])('refuses %s at construction, naming it', (_what, message, options) => {
    expect(() => createDbRouter(options as DbRouterOptions)).toThrow(DbRouterOptionsError)
    expect(() => createDbRouter(options as DbRouterOptions)).toThrow(message)
  })

  it('never echoes a URL that may hold a password', () => {
    expect(() => createDbRouter({ primary: 'mysql://root:hunter2@db/app' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') as unknown }),
    )
    expect(() => createDbRouter({ primary: 'root:hunter2@db' })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('hunter2') as unknown }),
    )
  })

  it('refuses a pg.Client (one connection) with a coded error, and leaves it untouched', async () => {
    const client = new pg.Client({ connectionString: primary })
    expect(() => createDbRouter({ primary: client })).toThrow(
      /primary is a pg.Client .*pass a pg.Pool, a connection URL or a PoolConfig/,
    )
    expect(() => createDbRouter({ primary, replicas: [client as unknown as pg.Pool] })).toThrow(
      expect.objectContaining({
        code: 'ERR_DB_INVALID_OPTIONS',
        message: expect.stringContaining('replicas[0] is a pg.Client') as unknown,
      }),
    )
    expect(() =>
      createDbRouter({ primary, replicas: [{ source: client as unknown as pg.Pool, weight: 2 }] }),
    ).toThrow('replicas[0].source is a pg.Client')
    await client.end().catch(() => undefined)
  })

  it('accepts socket paths and postgresql:// URLs', async () => {
    for (const source of ['/var/run/postgresql test', 'postgresql://u@h/db', 'postgres://u@[::1]:5432/db']) {
      await createDbRouter({ primary: source, replicas: [] }).close()
    }
  })

  it('refuses bad node sources', () => {
    expect(() => createDbRouter(undefined as unknown as DbRouterOptions)).toThrow(
      expect.objectContaining({ code: 'ERR_DB_INVALID_OPTIONS' }),
    )
    expect(() => createDbRouter({ primary: 42 as unknown as string })).toThrow(
      expect.objectContaining({ code: 'ERR_DB_INVALID_OPTIONS' }),
    )
    expect(() => createDbRouter({ primary, replicas: [''] })).toThrow(
      expect.objectContaining({ code: 'ERR_DB_INVALID_OPTIONS' }),
    )
    expect(() => createDbRouter({ primary, replicas: [{ source: primary, weight: 0 }] })).toThrow(
      expect.objectContaining({ code: 'ERR_DB_INVALID_OPTIONS' }),
    )
    expect(() => createDbRouter({ primary, replicas: [{ source: primary, name: 'primary' }] })).toThrow(
      expect.objectContaining({ code: 'ERR_DB_INVALID_OPTIONS' }),
    )
  })

  it('accepts URLs, PoolConfigs (with weight and name) and existing pools, and connects lazily', async () => {
    const mine = new pg.Pool({ connectionString: primary })
    const theirs = new pg.Pool({ connectionString: primary })
    const db = createDbRouter({
      primary: mine,
      replicas: [
        primary,
        { connectionString: primary, weight: 2, name: 'big' },
        { source: theirs, name: 'shared' },
      ],
    })
    expect(db.health().replicas.map((r) => `${r.name}:${r.weight}`)).toEqual([
      'replica-0:1',
      'big:2',
      'shared:1',
    ])
    expect(mine.totalCount).toBe(0)
    await db.close()
    // The router never ends a pool it did not create.
    expect(mine.ending).toBe(false)
    expect(theirs.ending).toBe(false)
    await mine.end()
    await theirs.end()
  })
})

describe('query arguments', () => {
  it("accept pg's forms and the routing option", () => {
    expect({ ...normalizeQueryArgs('SELECT $1', [1], { role: 'primary' }, 100) }).toEqual({
      text: 'SELECT $1',
      values: [1],
      query_timeout: 100,
    })
    expect(roleOf([1], { role: 'primary' })).toBe('primary')
    expect(normalizeQueryArgs({ text: 'SELECT 1', rowMode: 'array' }, undefined, undefined, 100)).toEqual({
      text: 'SELECT 1',
      rowMode: 'array',
      query_timeout: 100,
    })
    expect(normalizeQueryArgs({ text: 'SELECT 1', query_timeout: 5 }, [2], undefined, 100)).toEqual({
      text: 'SELECT 1',
      values: [2],
      query_timeout: 5,
    })
    expect(roleOf({ role: 'replica' }, undefined)).toBe('replica')
    expect(roleOf(undefined, undefined)).toBeUndefined()
  })

  it('refuse callbacks, Submittables and non-SQL with ERR_DB_INVALID_ARGUMENT', () => {
    expect(() => normalizeQueryArgs('SELECT 1', () => undefined, undefined, 1)).toThrow(DbRouterArgumentError)
    expect(() =>
      normalizeQueryArgs({ text: 'SELECT 1', submit: () => undefined }, undefined, undefined, 1),
    ).toThrow(DbRouterArgumentError)
    expect(() => normalizeQueryArgs(undefined, undefined, undefined, 1)).toThrow(DbRouterArgumentError)
    expect(() => roleOf([1], { role: 'leader' })).toThrow(DbRouterArgumentError)
  })
})

describe('replica sessions', () => {
  it('refuses a replica that is the primary pool itself', async () => {
    const shared = new pg.Pool({ connectionString: primary })
    expect(() => createDbRouter({ primary: shared, replicas: [shared] })).toThrow(DbRouterOptionsError)
    await shared.end()
  })
})

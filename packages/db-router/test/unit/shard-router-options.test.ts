import { describe, expect, it } from 'vitest'
import { DbRouterArgumentError, DbRouterClosedError, DbRouterOptionsError } from '../../src/index'
import { createShardedRouter } from '../../src/shards/index'
import type { ShardedRouterOptions } from '../../src/shards/index'

// Nothing connects before the first call: these run without a server.
const URL = 'postgres://postgres@127.0.0.1:1/none'
const shards = { a: { primary: URL }, b: { primary: URL } }

describe('createShardedRouter options', () => {
  const bad: readonly [string, unknown, RegExp][] = [
    ['no options', undefined, /needs an options object/],
    ['an unknown option', { shards, map: { strategy: 'hash' }, shardKey: 'x' }, /shardKey/],
    ['no shards', { shards: {}, map: { strategy: 'hash' } }, /at least one shard/],
    [
      'a bad shard name',
      { shards: { 'a b': { primary: URL } }, map: { strategy: 'hash' } },
      /valid shard name/,
    ],
    ['a bad shard column', { shards, map: { strategy: 'hash' }, shardColumn: 'a;b' }, /shardColumn/],
    ['a placement on no shard', { shards, map: { strategy: 'hash' }, placement: { t: 'z' } }, /placement.t/],
    [
      'a bad shard option',
      { shards: { a: { primary: URL, balance: 'x' } }, map: { strategy: 'hash' } },
      /shards.a: balance/,
    ],
    ['a directory without home', { shards, map: { strategy: 'directory' } }, /map.home/],
    [
      'a bad directory prefix',
      { shards, map: { strategy: 'directory', home: 'a', prefix: 'X-Y' } },
      /map.prefix/,
    ],
    [
      'a bad concurrency',
      { shards, map: { strategy: 'hash' }, crossShard: { concurrency: 0 } },
      /crossShard.concurrency/,
    ],
    ['a bad map', { shards, map: { strategy: 'hash', buckets: -1 } }, /map.buckets/],
  ]
  it.each(bad)('refuses %s with ERR_DB_INVALID_OPTIONS', (_, options, message) => {
    const make = (): unknown => createShardedRouter(options as ShardedRouterOptions)
    expect(make).toThrow(DbRouterOptionsError)
    expect(make).toThrow(message)
  })

  it('refuses bad arguments before any remote call, and every call once closed', async () => {
    const db = createShardedRouter({ shards, map: { strategy: 'hash' }, shardColumn: 'tenant_id' })
    expect(() => db.shardOf(1.5)).toThrow(DbRouterArgumentError)
    expect(() => db.router('z')).toThrow(DbRouterArgumentError)
    await expect(db.query('SELECT 1', [], 'x' as never)).rejects.toBeInstanceOf(DbRouterArgumentError)
    await expect(db.queryAllShards('SELECT 1', [], { onError: 'maybe' as never })).rejects.toBeInstanceOf(
      DbRouterArgumentError,
    )
    await expect(db.queryAllShards('SELECT 1', [], { concurrency: 0 })).rejects.toBeInstanceOf(
      DbRouterArgumentError,
    )
    await expect(db.query('SELECT * FROM t WHERE tenant_id = $1', [{}])).rejects.toMatchObject({
      code: 'ERR_DB_SHARD_KEY_REQUIRED',
      reason: 'key-not-constant',
    })
    await db.close({ timeout: 100 })
    expect(db.health().status).toBe('closed')
    await expect(db.query('SELECT 1', [], { shardKey: 'x' })).rejects.toBeInstanceOf(DbRouterClosedError)
    expect(() => db.shard('x')).toThrow(DbRouterClosedError)
    await expect(db.transaction('x', () => Promise.resolve(undefined))).rejects.toBeInstanceOf(
      DbRouterClosedError,
    )
    expect(db.close()).toBe(db.close())
  })
})

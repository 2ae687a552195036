import { afterEach, describe, expect, it, vi } from 'vitest'
import { ServicesUnavailableError } from '../src/errors'
import { freePort } from '../src/free-port'
import { checkService, requireServices, serviceUrls } from '../src/services'

describe('serviceUrls', () => {
  afterEach(() => {
    vi.unstubAllEnvs()
    vi.resetModules()
  })

  it('defaults to the localhost services', async () => {
    for (const name of [
      'PG',
      'REDIS',
      'AMQP',
      'PG_PRIMARY',
      'PG_REPLICA',
      'PG_REPLICA2',
      'PG_SHARD',
      'REDIS_CLUSTER',
    ]) {
      vi.stubEnv(`SCALEKIT_${name}_URL`, '')
    }
    vi.stubEnv('SCALEKIT_PG_SHARD_URLS', '')
    vi.stubEnv('SCALEKIT_REDIS_CLUSTER_NODES', '')
    const { serviceUrls: urls } = await import('../src/services')
    expect(urls).toEqual({
      pg: 'postgres://postgres@127.0.0.1:5432/test',
      redis: 'redis://127.0.0.1:6379',
      amqp: 'amqp://guest:guest@127.0.0.1:5672',
      pgPrimary: 'postgres://postgres@127.0.0.1:5433/test',
      pgReplica: 'postgres://postgres@127.0.0.1:5434/test',
      pgReplica2: 'postgres://postgres@127.0.0.1:5435/test',
      pgShards: [5441, 5442, 5443].map((p) => `postgres://postgres@127.0.0.1:${p}/test`),
      redisClusterNodes: [7001, 7002, 7003, 7004, 7005, 7006].map((port) => ({ host: '127.0.0.1', port })),
    })
  })

  it('reads env, splitting the comma lists', async () => {
    vi.stubEnv('SCALEKIT_REDIS_URL', 'redis://cache:6380')
    vi.stubEnv('SCALEKIT_PG_SHARD_URLS', 'postgres://a/x, postgres://b/y')
    vi.stubEnv('SCALEKIT_REDIS_CLUSTER_NODES', 'n1:7001,n2:7002')
    const { serviceUrls: urls } = await import('../src/services')
    expect(urls.redis).toBe('redis://cache:6380')
    expect(urls.pgShards).toEqual(['postgres://a/x', 'postgres://b/y'])
    expect(urls.redisClusterNodes).toEqual([
      { host: 'n1', port: 7001 },
      { host: 'n2', port: 7002 },
    ])
  })
})

describe('checkService', () => {
  it('answers ok for the running base services', async () => {
    const checks = await Promise.all((['pg', 'redis', 'amqp'] as const).map((name) => checkService(name)))
    expect(checks).toEqual([{ ok: true }, { ok: true }, { ok: true }])
  })

  it('fails within its short timeout, with the reason, for a closed port', async () => {
    const port = await freePort()
    const started = performance.now()
    const checks = await Promise.all([
      checkService('redis', `redis://127.0.0.1:${port}`),
      checkService('pg', `postgres://postgres@127.0.0.1:${port}/test`),
      checkService('amqp', `amqp://guest:guest@127.0.0.1:${port}`),
      checkService('pgShards', `${serviceUrls.pg},postgres://postgres@127.0.0.1:${port}/test`),
    ])
    for (const check of checks) expect(check.ok ? 'answered' : check.reason).toContain('ECONNREFUSED')
    // Generous: the point is that it does not hang on a retry loop.
    expect(performance.now() - started).toBeLessThan(10_000)
  })

  it('rejects a primary where a replica is expected', async () => {
    expect(await checkService('pgReplica', serviceUrls.pg)).toEqual({
      ok: false,
      reason: 'answers but pg_is_in_recovery() is false: not a replica',
    })
  })

  it('rejects a Redis that is not a cluster node', async () => {
    const check = await checkService('redisCluster', new URL(serviceUrls.redis).host)
    expect(check.ok).toBe(false)
  })

  it('fails on wrong AMQP credentials', async () => {
    const url = new URL(serviceUrls.amqp)
    url.password = 'wrong-password'
    expect((await checkService('amqp', url.toString())).ok).toBe(false)
  })
})

describe('requireServices', () => {
  it('resolves when every service answers', async () => {
    await expect(requireServices('pg', 'redis', 'amqp')).resolves.toBeUndefined()
  })

  it('names every missing service, its URL and the command that starts it', async () => {
    const port = await freePort()
    const error: unknown = await requireServices(
      'redis',
      { name: 'pg', url: `postgres://postgres:secret@127.0.0.1:${port}/test` },
      { name: 'pgReplica', url: `postgres://postgres@127.0.0.1:${port}/test` },
      { name: 'pgShards', url: `postgres://postgres@127.0.0.1:${port}/test` },
      { name: 'redisCluster', url: `127.0.0.1:${port}` },
    ).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ServicesUnavailableError)
    const { message, missing } = error as ServicesUnavailableError
    expect(missing.map((m) => m.name)).toEqual(['pg', 'pgReplica', 'pgShards', 'redisCluster'])
    expect(message).toContain(`pg at postgres://postgres:***@127.0.0.1:${port}/test`)
    expect(message).not.toContain('secret')
    expect(message).toContain('sudo bash scripts/services.sh up\n')
    expect(message).toContain('sudo bash scripts/services.sh up --replica')
    expect(message).toContain('sudo bash scripts/services.sh up --shards')
    expect(message).toContain('sudo bash scripts/services.sh up --redis-cluster')
    expect(message).toContain('ECONNREFUSED')
  })
})

import { Cluster as Cluster5, Redis as Redis5 } from 'ioredis'
import { Cluster as Cluster6, Redis as Redis6 } from 'ioredis6'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import {
  type RedisServer,
  requireServices,
  serviceUrls,
  startRedisServer,
  uniqueName,
} from '@scalekit/test-utils'
import { createRateLimiter, type RateLimiter } from '../../src/index'

// The app's own client from either major of ioredis (5.9 as `ioredis`, 6.1 as `ioredis6`), standalone
// and on the Redis Cluster: the same decisions from each, and with Redis stopped a decision bounded
// by the limiter's timeout whatever the client's retry settings (ioredis 6 at its defaults keeps a
// command ~73 s). `redis: client` compiling for each is the type-level half of the test.
const namespace = uniqueName('rl-majors')
  .replace(/[^A-Za-z0-9_.:-]/g, '-')
  .slice(0, 50)
const nodes = [...serviceUrls.redisClusterNodes]
const quiet = <T extends { on(event: 'error', listener: () => void): unknown }>(client: T): T => {
  client.on('error', () => undefined)
  return client
}
const makers = {
  'ioredis 5, standalone': () => quiet(new Redis5(serviceUrls.redis)),
  'ioredis 6, standalone': () => quiet(new Redis6(serviceUrls.redis)),
  'ioredis 5, cluster': () => quiet(new Cluster5(nodes)),
  'ioredis 6, cluster': () => quiet(new Cluster6(nodes)),
}

beforeAll(async () => {
  await requireServices('redis', 'redisCluster')
})

describe.each(Object.keys(makers) as (keyof typeof makers)[])('%s', (name) => {
  const client = makers[name]()
  afterAll(() => {
    client.disconnect()
  })

  it('decides burst then refusals, and leaves the client as it was', async () => {
    await client.ping()
    const limiter: RateLimiter = createRateLimiter({
      redis: client,
      namespace: `${namespace}-${name.replace(/\W+/g, '-')}`,
      limit: 10,
      period: '1h',
      burst: 3,
      timeout: '2s',
    })
    const decisions = await Promise.all(Array.from({ length: 5 }, () => limiter.take('k')))
    expect(decisions.map((d) => [d.allowed, d.source])).toEqual([
      [true, 'store'],
      [true, 'store'],
      [true, 'store'],
      [false, 'store'],
      [false, 'store'],
    ])
    await limiter.close()
    expect(client.status).toBe('ready')
  })
})

describe('ioredis 6 at its defaults, Redis stopped', () => {
  let server: RedisServer
  beforeAll(async () => {
    server = await startRedisServer()
  })
  afterAll(async () => {
    await server.close()
  })

  it('every decision is made by the policy before the client gives up on its command', async () => {
    const client = quiet(new Redis6(server.url))
    await client.ping()
    const limiter = createRateLimiter({
      redis: client,
      namespace: 'majors-down',
      logger: { warn: () => undefined },
      limit: 10,
      period: '1h',
      timeout: '100ms',
    })
    expect((await limiter.take('k')).source).toBe('store')
    await server.stop()
    let rawSettled = false
    void client.get('x').then(
      () => (rawSettled = true),
      () => (rawSettled = true),
    )
    const during = []
    for (let i = 0; i < 8; i++) during.push(await limiter.take('k'))
    expect(rawSettled).toBe(false)
    expect(during.every((d) => d.source === 'local')).toBe(true)
    await limiter.close()
    client.disconnect()
  })
})

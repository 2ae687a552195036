import { afterAll, describe, expect, it } from 'vitest'
import { rateLimitHook } from '../../src/adapters/fastify'
import { createRateLimiter, type RateLimiter } from '../../src/index'
import type { RateLimitRequest } from '../../src/keys'
import { type Framework, startApp } from '../support/apps'

// The adapters over real HTTP with in-memory limiters (no Redis): what key functions and `skip` see.
const limiters: RateLimiter[] = []
afterAll(async () => {
  await Promise.all(limiters.map((l) => l.close()))
})

function limiter(limit: number): RateLimiter {
  const l = createRateLimiter({ namespace: `unit-http-${limiters.length}`, limit, period: '1m' })
  limiters.push(l)
  return l
}

type Seen = Pick<RateLimitRequest, 'remoteAddress' | 'user' | 'route' | 'method' | 'path'>

describe.each<Framework>(['express', 'fastify'])('%s adapter', (framework) => {
  it('gives key functions and skip() the route template, the path without its query, the user and the peer', async () => {
    const seen: Seen[] = []
    const skipped: string[] = []
    const see = (req: RateLimitRequest): Seen => ({
      remoteAddress: req.remoteAddress,
      user: req.user,
      route: req.route,
      method: req.method,
      path: req.path,
    })
    const app = await startApp(
      framework,
      {
        limiter: limiter(100),
        key: (req) => {
          seen.push(see(req))
          return 'k'
        },
      },
      {
        skip: (req) => {
          skipped.push(req.path)
          return false
        },
      },
    )
    try {
      const res = await fetch(`${app.url}/items/7?q=1&r=2`, { headers: { 'x-user': 'ann' } })
      expect(res.status).toBe(200)
    } finally {
      await app.close()
    }
    expect(skipped).toEqual(['/items/7'])
    expect(seen.map((s) => s.remoteAddress?.replace(/^::ffff:/, ''))).toEqual(['127.0.0.1'])
    expect(seen.map(({ remoteAddress: _peer, ...rest }) => rest)).toEqual([
      {
        user: { sub: 'ann' },
        // The Fastify plugin runs on every route: the template is known there; an Express
        // middleware mounted on the route sees it too.
        route: '/items/:id',
        method: 'GET',
        path: '/items/7',
      },
    ])
  })

  it('with headers: false, a refusal carries Retry-After alone', async () => {
    const app = await startApp(framework, { limiter: limiter(1), key: () => 'k' }, { headers: false })
    try {
      expect((await fetch(`${app.url}/items/1`)).headers.get('ratelimit')).toBeNull()
      const refused = await fetch(`${app.url}/items/1`)
      expect(refused.status).toBe(429)
      expect(refused.headers.get('ratelimit')).toBeNull()
      expect(refused.headers.get('ratelimit-policy')).toBeNull()
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    } finally {
      await app.close()
    }
  })
})

describe('fastify rateLimitHook', () => {
  it('is a callback onRequest hook: Fastify hands it done(), no promise of ours per request', () => {
    const hook = rateLimitHook({ limiter: limiter(10), key: () => 'k' })
    expect(hook.length).toBe(3)
  })

  it('lets a request decided in memory go on in the same tick; a limiter that only has take() is awaited', async () => {
    const request = { raw: { socket: { remoteAddress: '127.0.0.1' }, url: '/r' }, headers: {}, method: 'GET' }
    const set: Record<string, string> = {}
    const reply = {
      header(name: string, value: string) {
        set[name] = value
        return reply
      },
    }
    const run = (l: RateLimiter): { done: Promise<unknown>; sync: boolean } => {
      let sync = false
      const done = new Promise((resolve) => {
        const hook = rateLimitHook({ limiter: l, key: () => 'k' }) as (...args: unknown[]) => void
        hook(request, reply, (error?: unknown) => {
          sync = true
          resolve(error)
        })
      })
      return { done, sync }
    }
    const memory = run(limiter(10))
    expect(memory.sync).toBe(true)
    expect(await memory.done).toBeUndefined()
    expect(Object.keys(set)).toEqual(['ratelimit-policy', 'ratelimit'])
    const inner = limiter(10)
    const takeOnly = run({
      policy: inner.policy,
      take: (key, options) => inner.take(key, options),
    } as RateLimiter)
    expect(takeOnly.sync).toBe(false)
    expect(await takeOnly.done).toBeUndefined()
  })
})

describe('defaults', () => {
  it("burst is the limit and onRedisError is 'local' (see the README for why)", () => {
    const l = createRateLimiter({
      redis: 'redis://127.0.0.1:1',
      namespace: 'unit-defaults',
      limit: 100,
      period: '1m',
    })
    limiters.push(l)
    expect(l.policy.burst).toBe(100)
    expect(l.health().onRedisError).toBe('local')
  })
})

import { afterAll, describe, expect, it } from 'vitest'
import { byIp, byRoute, byUser, combineKeys } from '../../src/adapters/express'
import type { LimitedRequest } from '../../src/adapters/http'
import { createRateLimiter, type RateLimiter, type RateLimiterOptions } from '../../src/index'
import { type App, type Framework, startApp } from '../support/apps'
import { sharedRedis } from '../support/redis'

const { redis, namespace, cleanup } = sharedRedis('rl-http')
const limiters: RateLimiter[] = []
afterAll(async () => {
  await Promise.all(limiters.map((l) => l.close()))
  await cleanup()
})

let made = 0
function limiter(options: Partial<RateLimiterOptions> = {}): RateLimiter {
  const l = createRateLimiter({
    redis,
    namespace: `${namespace}-${made++}`,
    limit: 3,
    period: '1m',
    burst: 3,
    ...options,
  })
  limiters.push(l)
  return l
}

async function withApp<T>(app: Promise<App>, run: (url: string) => Promise<T>): Promise<T> {
  const started = await app
  try {
    return await run(started.url)
  } finally {
    await started.close()
  }
}

async function statuses(url: string, n: number, headers: (i: number) => Record<string, string> = () => ({})) {
  const out: number[] = []
  for (let i = 0; i < n; i++) out.push((await fetch(url, { headers: headers(i) })).status)
  return out
}

describe.each<Framework>(['express', 'fastify'])('%s over real HTTP', (framework) => {
  it('sends the RateLimit headers, then 429 with Retry-After and a coded JSON body', async () => {
    const l = limiter({ name: 'api' })
    await withApp(startApp(framework, { limiter: l, key: byIp() }), async (url) => {
      const first = await fetch(`${url}/items/1`)
      expect(first.status).toBe(200)
      expect(first.headers.get('ratelimit-policy')).toBe('"api";q=3;w=60')
      expect(first.headers.get('ratelimit')).toBe('"api";r=2;t=20')
      expect(await statuses(`${url}/items/1`, 3)).toEqual([200, 200, 429])
      const refused = await fetch(`${url}/items/1`)
      expect(refused.status).toBe(429)
      expect(refused.headers.get('content-type')).toMatch(/^application\/json/)
      const retryAfter = Number(refused.headers.get('retry-after'))
      expect(retryAfter).toBeGreaterThanOrEqual(1)
      expect(retryAfter).toBeLessThanOrEqual(20)
      expect(refused.headers.get('ratelimit')).toMatch(/^"api";r=0;t=\d+$/)
      expect(await refused.json()).toEqual({
        code: 'ERR_RATELIMIT_EXCEEDED',
        message: `Too many requests: retry after ${retryAfter} s`,
        limiter: 'api',
        retryAfter,
      })
    })
  })

  it('ignores X-Forwarded-For from an untrusted peer: a spoofed header does not change the key', async () => {
    const l = limiter()
    await withApp(startApp(framework, { limiter: l, key: byIp() }), async (url) => {
      const spoofed = await statuses(`${url}/items/1`, 5, (i) => ({ 'x-forwarded-for': `203.0.113.${i}` }))
      expect(spoofed).toEqual([200, 200, 200, 429, 429])
    })
  })

  it('reads X-Forwarded-For past trusted proxies only', async () => {
    const l = limiter()
    const key = byIp({ trustedProxies: ['127.0.0.1'] })
    await withApp(startApp(framework, { limiter: l, key }), async (url) => {
      // Each client behind our proxy has its own key…
      expect(await statuses(`${url}/items/1`, 4, (i) => ({ 'x-forwarded-for': `198.51.100.${i}` }))).toEqual([
        200, 200, 200, 200,
      ])
      // …and a client cannot pick one by prepending addresses: the rightmost untrusted hop counts.
      const forged = await statuses(`${url}/items/1`, 5, (i) => ({
        'x-forwarded-for': `10.9.9.${i}, 198.51.100.77`,
      }))
      expect(forged).toEqual([200, 200, 200, 429, 429])
    })
  })

  it('applies several limiters (per user and global), keyed by route template', async () => {
    const perUser = limiter({ name: 'per-user', limit: 2, burst: 2 })
    const global = limiter({ name: 'global', limit: 3, burst: 3 })
    const rules = [
      { limiter: perUser, key: combineKeys(byRoute(), byUser()) },
      { limiter: global, key: byRoute() },
    ]
    await withApp(startApp(framework, rules), async (url) => {
      const alice = await fetch(`${url}/items/1`, { headers: { 'x-user': 'alice' } })
      expect(alice.headers.get('ratelimit-policy')).toBe('"per-user";q=2;w=60, "global";q=3;w=60')
      expect(alice.headers.get('ratelimit')).toBe('"per-user";r=1;t=30, "global";r=2;t=20')
      // Another id, same route template: alice's second request, then her third is refused per user.
      expect(await statuses(`${url}/items/2`, 2, () => ({ 'x-user': 'alice' }))).toEqual([200, 429])
      // Bob has his own per-user allowance but the route's global one runs out (alice spent 3).
      const bob = await fetch(`${url}/items/3`, { headers: { 'x-user': 'bob' } })
      expect(bob.status).toBe(429)
      expect(((await bob.json()) as { limiter: string }).limiter).toBe('global')
      // Anonymous requests have no user key: only the global limiter applies to them.
      const anonymous = await fetch(`${url}/items/4`)
      expect(anonymous.headers.get('ratelimit')).toBe('"global";r=0;t=60')
    })
  })

  it('skips listed paths and functions; dry-run reports without refusing', async () => {
    const l = limiter({ limit: 1, burst: 1 })
    const limited: LimitedRequest[] = []
    const options = {
      skipPaths: ['/healthz'],
      skip: (req: { headers: Record<string, unknown> }) => req.headers['x-internal'] === 'yes',
      dryRun: true,
      onLimited: (_req: unknown, info: LimitedRequest) => void limited.push(info),
    }
    await withApp(startApp(framework, { limiter: l, key: byIp() }, options), async (url) => {
      const health = await fetch(`${url}/healthz`)
      expect(health.status).toBe(200)
      expect(health.headers.get('ratelimit')).toBeNull()
      expect(await statuses(`${url}/items/1`, 3, () => ({ 'x-internal': 'yes' }))).toEqual([200, 200, 200])
      expect(await statuses(`${url}/items/1`, 3)).toEqual([200, 200, 200])
      expect(limited.map((x) => [x.limiter, x.dryRun, x.decision.allowed])).toEqual([
        [l.policy.name, true, false],
        [l.policy.name, true, false],
      ])
    })
  })
})

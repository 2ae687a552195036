import { describe, expect, it } from 'vitest'
import { rateLimit } from '../../src/adapters/express'
import { createRateLimiter, RateLimitOptionsError } from '../../src/index'
import { byApiKey, byIp, byRoute, byUser, combineKeys, type RateLimitRequest } from '../../src/keys'

const request = (over: Partial<RateLimitRequest>): RateLimitRequest => ({
  remoteAddress: '192.0.2.10',
  headers: {},
  user: undefined,
  route: undefined,
  method: 'GET',
  path: '/',
  ...over,
})

describe('byIp', () => {
  it('keys by the peer; IPv4-mapped IPv6 as IPv4; IPv6 by its /64', () => {
    const key = byIp()
    expect(key(request({}))).toBe('ip:192.0.2.10')
    expect(key(request({ remoteAddress: '::ffff:192.0.2.10' }))).toBe('ip:192.0.2.10')
    expect(key(request({ remoteAddress: '2001:db8:1:2:aaaa::1' }))).toBe('ip:2001:db8:1:2:0:0:0:0/64')
    expect(key(request({ remoteAddress: '2001:db8:1:2:bbbb::9' }))).toBe('ip:2001:db8:1:2:0:0:0:0/64')
    expect(byIp({ ipv6Subnet: 48 })(request({ remoteAddress: '2001:db8:1:2::1' }))).toBe(
      'ip:2001:db8:1:0:0:0:0:0/48',
    )
    expect(key(request({ remoteAddress: undefined }))).toBeUndefined()
  })

  it('never reads X-Forwarded-For from an untrusted peer', () => {
    expect(byIp()(request({ headers: { 'x-forwarded-for': '203.0.113.9' } }))).toBe('ip:192.0.2.10')
    const key = byIp({ trustedProxies: ['10.0.0.0/8'] })
    expect(key(request({ headers: { 'x-forwarded-for': '203.0.113.9' } }))).toBe('ip:192.0.2.10')
  })

  it('walks X-Forwarded-For from the right past trusted proxies; stops at a malformed hop', () => {
    const key = byIp({ trustedProxies: ['10.0.0.0/8', '192.0.2.10'] })
    const via = (xff: string): string | undefined => key(request({ headers: { 'x-forwarded-for': xff } }))
    expect(via('203.0.113.9')).toBe('ip:203.0.113.9')
    expect(via('1.1.1.1, 203.0.113.9, 10.1.2.3')).toBe('ip:203.0.113.9')
    expect(via('203.0.113.9, not-an-ip, 10.1.2.3')).toBe('ip:10.1.2.3')
    expect(via('10.0.0.1, 10.0.0.2')).toBe('ip:10.0.0.1')
  })

  it('matches IPv6 ranges and IPv4-mapped peers against IPv4 ranges', () => {
    const key = byIp({ trustedProxies: ['fd00::/8', '10.0.0.0/8'] })
    const xff = { 'x-forwarded-for': '203.0.113.9' }
    expect(key(request({ remoteAddress: 'fd12:3456::1', headers: xff }))).toBe('ip:203.0.113.9')
    expect(key(request({ remoteAddress: '::ffff:10.1.2.3', headers: xff }))).toBe('ip:203.0.113.9')
    expect(key(request({ remoteAddress: 'fe80::1', headers: xff }))).toBe('ip:fe80:0:0:0:0:0:0:0/64')
    expect(key(request({ remoteAddress: '11.0.0.1', headers: xff }))).toBe('ip:11.0.0.1')
  })

  it.each([['10.0.0.0/33'], ['proxy.internal'], ['::1/129']])('refuses trustedProxies entry %j', (entry) => {
    expect(() => byIp({ trustedProxies: [entry] })).toThrow(RateLimitOptionsError)
  })
})

describe('the other keys', () => {
  it('byUser reads sub (or id); anonymous requests get no key', () => {
    expect(byUser()(request({ user: { sub: 'u1' } }))).toBe('user:u1')
    expect(byUser()(request({ user: { id: 7 } }))).toBe('user:7')
    expect(byUser()(request({}))).toBeUndefined()
  })

  it('byApiKey hashes the key: the key itself never becomes a Redis key', () => {
    const key = byApiKey()(request({ headers: { 'x-api-key': 'sk_live_secret' } }))
    expect(key).toMatch(/^apikey:[\w-]{32}$/)
    expect(key).not.toContain('secret')
    expect(byApiKey({ header: 'Authorization' })(request({ headers: { authorization: 'k' } }))).toMatch(
      /^apikey:/,
    )
    expect(byApiKey()(request({}))).toBeUndefined()
  })

  it('byRoute uses the template; combineKeys joins, or skips when a part is missing', () => {
    const r = request({ route: '/items/:id', method: 'POST', user: { sub: 'u' } })
    expect(byRoute()(r)).toBe('route:POST /items/:id')
    expect(combineKeys(byRoute(), byUser())(r)).toBe('route:POST /items/:id|user:u')
    expect(combineKeys(byRoute(), byUser())(request({}))).toBeUndefined()
  })
})

describe('adapter options', () => {
  const limiter = createRateLimiter({ namespace: 'unit-adapter', limit: 1, period: '1s' })
  it.each([
    [[], undefined, /at least one rule/],
    [{ limiter: {}, key: byIp() }, undefined, /limiter must be a limiter/],
    [{ limiter, key: 'ip' }, undefined, /key must be a function/],
    [{ limiter, key: byIp() }, { skip: true }, /skip must be a function/],
    [{ limiter, key: byIp() }, { skipPaths: '/healthz' }, /skipPaths must be an array/],
  ])('rateLimit(%j, %j) throws at construction', (rules, options, message) => {
    expect(() => rateLimit(rules as never, options as never)).toThrow(RateLimitOptionsError)
    expect(() => rateLimit(rules as never, options as never)).toThrow(message)
  })
})

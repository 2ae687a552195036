import { Redis } from 'ioredis'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { requireServices, serviceUrls, uniqueName } from '@scalekit/test-utils'
import { createApiKeys, createSessions, createTokens } from '../../src/index'
import type { ApiKeys, Sessions, Tokens } from '../../src/index'
import type { Attack } from '../support/attacks'
import { attacks, AUDIENCE, ISSUER } from '../support/attacks'
import type { App } from '../support/apps'
import { call, sessionCookie, startExpress, startFastify } from '../support/apps'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { edKey } from '../support/keys'

const key = edKey('k1')
let redis: Redis
let tokens: Tokens
let sessions: Sessions
let apiKeys: ApiKeys
let list: Attack[]
const apps: Record<'express' | 'fastify', App> = {} as never

beforeAll(async () => {
  await requireServices('redis')
  redis = new Redis(serviceUrls.redis)
  const prefix = uniqueName('adapters')
  tokens = createTokens({ issuer: ISSUER, audience: AUDIENCE, keys: { keys: [key] }, redis, prefix })
  sessions = createSessions({ redis, prefix })
  apiKeys = createApiKeys({ redis, prefix })
  list = await attacks(tokens, key)
  apps.express = await startExpress({ tokens, sessions, apiKeys })
  apps.fastify = await startFastify({ tokens, sessions, apiKeys })
})
afterAll(async () => {
  await Promise.all(Object.values(apps).map((a) => a.close()))
  await Promise.all([tokens.close(), sessions.close(), apiKeys.close()])
  redis.disconnect()
})

const bearer = (token: string): Record<string, string> => ({ authorization: `Bearer ${token}` })

describe.each(['express', 'fastify'] as const)('%s adapter over real HTTP', (name) => {
  const url = (path: string): string => `${apps[name].url}${path}`

  it('refuses every known attack with 401, a coded reason and WWW-Authenticate', async () => {
    for (const attack of list) {
      const reply = await call(url('/me'), { headers: bearer(attack.token) })
      expect({ attack: attack.name, status: reply.status, body: reply.body }).toEqual({
        attack: attack.name,
        status: 401,
        body: { code: 'ERR_SESSION_INVALID_TOKEN', reason: attack.reason },
      })
      expect(reply.headers['www-authenticate']).toBe(
        `Bearer realm="api", error="invalid_token", error_description="${attack.reason}"`,
      )
    }
  })

  it('a 100 KB header is refused by Node itself (431) unless the server takes bigger headers', async () => {
    const big = list.find((a) => a.reason === 'too-large') as Attack
    const server = await startPlain()
    try {
      expect((await call(server.url, { headers: bearer(big.token) })).status).toBe(431)
    } finally {
      await server.close()
    }
  })

  it('accepts a valid token, and exposes it through currentAuth()', async () => {
    const { accessToken } = await tokens.issue({ sub: 'u1' })
    const reply = await call(url('/me'), { headers: bearer(accessToken) })
    expect(reply).toMatchObject({ status: 200, body: { sub: 'u1', fromContext: 'u1' } })
  })

  it('with context: false, sets the request auth but enters no request context', async () => {
    const { accessToken } = await tokens.issue({ sub: 'u1' })
    const reply = await call(url('/me-lean'), { headers: bearer(accessToken) })
    expect(reply).toMatchObject({ status: 200, body: { sub: 'u1', fromContext: null } })
    const refused = await call(url('/me-lean'), { headers: bearer('not-a-token') })
    expect(refused).toMatchObject({ status: 401, body: { code: 'ERR_SESSION_INVALID_TOKEN' } })
  })

  it('never reads a token from the URL, and says how to authenticate', async () => {
    const { accessToken } = await tokens.issue({ sub: 'u1' })
    const reply = await call(url(`/me?access_token=${accessToken}&token=${accessToken}`))
    expect(reply).toMatchObject({ status: 401, body: { code: 'ERR_SESSION_UNAUTHENTICATED' } })
    expect(reply.headers['www-authenticate']).toBe('Bearer realm="api"')
  })

  it('answers 403 for a missing role, 200 with it', async () => {
    const user = await tokens.issue({ sub: 'u1', roles: ['user'] })
    const admin = await tokens.issue({ sub: 'u2', roles: ['admin'] })
    const refused = await call(url('/admin'), { headers: bearer(user.accessToken) })
    expect(refused).toMatchObject({ status: 403, body: { code: 'ERR_SESSION_FORBIDDEN', reason: 'role' } })
    expect(refused.headers['www-authenticate']).toContain('insufficient_scope')
    expect((await call(url('/admin'), { headers: bearer(admin.accessToken) })).status).toBe(200)
  })

  it('answers 401 for a revoked token (log out everywhere)', async () => {
    const pair = await tokens.issue({ sub: `out-${name}` })
    expect((await call(url('/me'), { headers: bearer(pair.accessToken) })).status).toBe(200)
    await tokens.revoke({ sub: `out-${name}` })
    const reply = await call(url('/me'), { headers: bearer(pair.accessToken) })
    expect(reply).toMatchObject({ status: 401, body: { code: 'ERR_SESSION_REVOKED', reason: 'user' } })
  })

  it('takes service tokens for their audience and scopes only', async () => {
    const good = await tokens.issueServiceToken({
      sub: 'billing',
      audience: 'ledger',
      scopes: ['ledger:write'],
    })
    const otherAud = await tokens.issueServiceToken({
      sub: 'billing',
      audience: 'mailer',
      scopes: ['ledger:write'],
    })
    const noScope = await tokens.issueServiceToken({ sub: 'billing', audience: 'ledger' })
    const { accessToken } = await tokens.issue({ sub: 'u1' })
    expect(await call(url('/service'), { headers: bearer(good) })).toMatchObject({
      status: 200,
      body: { sub: 'billing', scheme: 'service' },
    })
    expect(await call(url('/service'), { headers: bearer(otherAud) })).toMatchObject({
      status: 401,
      body: { reason: 'audience' },
    })
    expect(await call(url('/service'), { headers: bearer(noScope) })).toMatchObject({
      status: 403,
      body: { reason: 'scope' },
    })
    expect(await call(url('/service'), { headers: bearer(accessToken) })).toMatchObject({
      status: 401,
      body: { reason: 'type' },
    })
  })

  it('takes API keys; a wrong secret, an expired, a revoked or an unscoped key is refused with its reason', async () => {
    const good = await apiKeys.issue({ owner: 'partner', scopes: ['read'] })
    const unscoped = await apiKeys.issue({ owner: 'partner', scopes: ['write'] })
    const revoked = await apiKeys.issue({ owner: 'partner', scopes: ['read'] })
    await apiKeys.revoke(revoked.info.id)
    const expired = await apiKeys.issue({ owner: 'partner', scopes: ['read'], expiresIn: 1 })
    const wrongSecret = `${good.key.slice(0, -4)}AAAA`
    expect(await call(url('/key'), { headers: { 'x-api-key': good.key } })).toMatchObject({
      status: 200,
      body: { sub: 'partner', scheme: 'api-key' },
    })
    expect((await call(url('/key'), { headers: { authorization: `ApiKey ${good.key}` } })).status).toBe(200)
    const cases: [string, number, string][] = [
      [wrongSecret, 401, 'secret'],
      [expired.key, 401, 'expired'],
      [revoked.key, 401, 'revoked'],
      [unscoped.key, 403, 'scope'],
      ['sk_notakey', 401, 'malformed'],
    ]
    for (const [k, status, reason] of cases) {
      const reply = await call(url('/key'), { headers: { 'x-api-key': k } })
      expect({ reason, status: reply.status, got: reply.body['reason'] }).toEqual({
        reason,
        status,
        got: reason,
      })
    }
    expect(
      (await call(url('/key'), { headers: { 'x-api-key': good.key } })).headers['www-authenticate'],
    ).toBeUndefined()
    expect(
      (await call(url('/key'), { headers: { 'x-api-key': wrongSecret } })).headers['www-authenticate'],
    ).toContain('ApiKey')
  })

  it('sets a strict session cookie on the first change, and reads it back', async () => {
    const first = await call(url('/visit'))
    const setCookie = ([] as string[]).concat(first.headers['set-cookie'] ?? [])
    expect(setCookie).toHaveLength(1)
    const attributes = (setCookie[0] as string).split('; ')
    expect(attributes[0]).toMatch(/^__Host-sid=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}$/)
    expect(attributes).toEqual(expect.arrayContaining(['Path=/', 'HttpOnly', 'SameSite=Lax', 'Secure']))
    expect(attributes.some((a) => a.startsWith('Domain'))).toBe(false)
    const cookie = sessionCookie(first) as string
    const second = await call(url('/visit'), { headers: { cookie } })
    expect(second.body).toMatchObject({ visits: 2, fromContext: true })
    expect(second.headers['set-cookie']).toBeUndefined()
  })

  it('ignores a cookie whose signature does not match', async () => {
    const cookie = sessionCookie(await call(url('/visit'))) as string
    const forged = `${cookie.slice(0, -3)}abc`
    expect((await call(url('/whoami'), { headers: { cookie: forged } })).body).toEqual({
      userId: null,
      data: {},
    })
  })

  it('session fixation: the id changes on login and the pre-login id is useless', async () => {
    const before = sessionCookie(await call(url('/visit'))) as string
    const login = await call(url('/login'), { method: 'POST', headers: { cookie: before } })
    const after = sessionCookie(login) as string
    expect(after).toBeDefined()
    expect(after).not.toBe(before)
    expect((await call(url('/whoami'), { headers: { cookie: after } })).body).toMatchObject({
      userId: 'alice',
      data: { visits: 1 },
    })
    // The attacker planted `before`: it does not open alice's session.
    expect((await call(url('/whoami'), { headers: { cookie: before } })).body).toEqual({
      userId: null,
      data: {},
    })
    expect((await call(url('/private'), { headers: { cookie: before } })).status).toBe(401)
    expect((await call(url('/private'), { headers: { cookie: after } })).status).toBe(200)
    const logout = await call(url('/logout'), { method: 'POST', headers: { cookie: after } })
    expect(([] as string[]).concat(logout.headers['set-cookie'] ?? [])[0]).toContain('Max-Age=0')
    expect((await call(url('/private'), { headers: { cookie: after } })).status).toBe(401)
  })

  it('refuses cross-site unsafe requests that carry the cookie (Origin, Sec-Fetch-Site)', async () => {
    const cookie = sessionCookie(await call(url('/visit'))) as string
    const host = new URL(apps[name].url).host
    const evil = await call(url('/field/1'), {
      method: 'POST',
      headers: { cookie, origin: 'https://evil.test' },
    })
    expect(evil).toMatchObject({ status: 403, body: { code: 'ERR_SESSION_CROSS_SITE' } })
    const site = await call(url('/field/1'), {
      method: 'POST',
      headers: { cookie, 'sec-fetch-site': 'cross-site' },
    })
    expect(site.status).toBe(403)
    const same = await call(url('/field/1'), {
      method: 'POST',
      headers: { cookie, origin: `http://${host}`, 'sec-fetch-site': 'same-origin' },
    })
    expect(same.status).toBe(200)
    // A safe method is not checked, nor a request without the cookie.
    expect((await call(url('/whoami'), { headers: { cookie, origin: 'https://evil.test' } })).status).toBe(
      200,
    )
    expect(
      (await call(url('/field/2'), { method: 'POST', headers: { origin: 'https://evil.test' } })).status,
    ).toBe(200)
  })

  it('keeps all of 50 concurrent requests updating different fields of one session', async () => {
    const cookie = sessionCookie(await call(url('/visit'))) as string
    const replies = await Promise.all(
      Array.from({ length: 50 }, (_, i) => call(url(`/field/${i}`), { method: 'POST', headers: { cookie } })),
    )
    expect(replies.every((r) => r.status === 200)).toBe(true)
    const { data } = (await call(url('/whoami'), { headers: { cookie } })).body as {
      data: Record<string, number>
    }
    expect(Array.from({ length: 50 }, (_, i) => data[`f${i}`])).toEqual(
      Array.from({ length: 50 }, (_, i) => i),
    )
  })
})

/** A bare Node server with the default header limit. */
async function startPlain(): Promise<App> {
  const server = createServer((_req, res) => res.end('{}'))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () =>
      new Promise((resolve) => {
        server.close(() => {
          resolve()
        })
      }),
  }
}

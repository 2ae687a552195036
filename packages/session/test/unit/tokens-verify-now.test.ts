import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterEach, describe, expect, it, vi } from 'vitest'
import type { Tokens, VerifyEvent } from '../../src/index'
import { channels, createTokens, SessionClosedError } from '../../src/index'
import { verifyNow } from '../../src/tokens/verify-now'
import type { VerifiesNow } from '../../src/tokens/verify-now'
import { AUDIENCE, ISSUER } from '../support/attacks'
import { edKey } from '../support/keys'

const key = edKey('k1')

function make(options: Partial<Parameters<typeof createTokens>[0]> = {}): Tokens & VerifiesNow {
  return createTokens({ issuer: ISSUER, audience: AUDIENCE, keys: { keys: [key] }, ...options }) as Tokens &
    VerifiesNow
}

/** The verify events published while `work` runs. */
async function events(work: () => Promise<unknown>): Promise<VerifyEvent[]> {
  const seen: VerifyEvent[] = []
  const listener = (message: unknown): void => {
    seen.push(message as VerifyEvent)
  }
  subscribe(channels.verify.name, listener)
  try {
    await work()
  } finally {
    unsubscribe(channels.verify.name, listener)
  }
  return seen
}

afterEach(() => {
  vi.useRealTimers()
})

describe('the synchronous cache-hit path (verifyNow)', () => {
  it('answers a cached token at once with the claims verify() gives, and a miss with a promise', async () => {
    const tokens = make()
    const { accessToken } = await tokens.issue({ sub: 'u1', roles: ['admin'], claims: { org: 'o' } })
    const first = tokens[verifyNow](accessToken)
    expect(first).toBeInstanceOf(Promise)
    const verified = await first
    const hit = tokens[verifyNow](accessToken)
    expect(hit).not.toBeInstanceOf(Promise)
    expect(hit).toEqual(verified)
    expect(hit).toEqual(await tokens.verify(accessToken))
    expect(hit).toMatchObject({ sub: 'u1', roles: ['admin'], org: 'o' })
  })

  it('verify() stays a promise on a hit, and publishes the same events as before', async () => {
    const tokens = make()
    const { accessToken } = await tokens.issue({ sub: 'u1' })
    const seen = await events(async () => {
      await tokens.verify(accessToken)
      const hit = tokens.verify(accessToken)
      expect(hit).toBeInstanceOf(Promise)
      await hit
      expect(tokens[verifyNow](accessToken)).not.toBeInstanceOf(Promise)
    })
    expect(seen).toEqual([
      { kind: 'access', outcome: 'valid', cached: false },
      { kind: 'access', outcome: 'valid', cached: true },
      { kind: 'access', outcome: 'valid', cached: true },
    ])
  })

  it('a closed service: verify() rejects, verifyNow throws, both with ERR_SESSION_CLOSED', async () => {
    const tokens = make()
    const { accessToken } = await tokens.issue({ sub: 'u1' })
    await tokens.verify(accessToken)
    await tokens.close()
    await expect(tokens.verify(accessToken)).rejects.toBeInstanceOf(SessionClosedError)
    expect(() => tokens[verifyNow](accessToken)).toThrow(SessionClosedError)
  })

  it.each([
    ['by token id', (t: Tokens, jti: string) => t.revoke({ jti }), 'token'],
    ['by user (log out everywhere)', (t: Tokens) => t.revoke({ sub: 'u1' }), 'user'],
  ] as const)('a cached token revoked %s is refused as before', async (_name, revoke, reason) => {
    const tokens = make({ store: 'memory' })
    const { accessToken } = await tokens.issue({ sub: 'u1' })
    const claims = await tokens.verify(accessToken)
    expect(tokens[verifyNow](accessToken)).not.toBeInstanceOf(Promise)
    await revoke(tokens, claims.jti)
    const seen = await events(async () => {
      await expect(Promise.resolve(tokens[verifyNow](accessToken))).rejects.toMatchObject({
        code: 'ERR_SESSION_REVOKED',
        reason,
      })
      await expect(tokens.verify(accessToken)).rejects.toMatchObject({ code: 'ERR_SESSION_REVOKED', reason })
    })
    expect(seen.map((e) => [e.outcome, e.reason])).toEqual([
      ['refused', reason],
      ['refused', reason],
    ])
    await tokens.close()
  })

  it('a cached token past its exp: accepted within the clock tolerance, refused after, as before', async () => {
    vi.useFakeTimers({ toFake: ['Date'] })
    const tokens = make({ accessTokenTtl: '1m', clockTolerance: '10s' })
    const { accessToken } = await tokens.issue({ sub: 'u1' })
    const { exp } = await tokens.verify(accessToken)
    expect(tokens[verifyNow](accessToken)).not.toBeInstanceOf(Promise)
    vi.setSystemTime(exp * 1000 + 5000)
    const within = tokens[verifyNow](accessToken)
    expect(within).toBeInstanceOf(Promise)
    await expect(within).resolves.toMatchObject({ sub: 'u1' })
    vi.setSystemTime(exp * 1000 + 11_000)
    await expect(Promise.resolve(tokens[verifyNow](accessToken))).rejects.toMatchObject({
      code: 'ERR_SESSION_INVALID_TOKEN',
      reason: 'expired',
    })
  })

  it('a service token cached for its audience is not an access token: a miss, refused by its type', async () => {
    const tokens = make()
    const service = await tokens.issueServiceToken({ sub: 'billing', audience: 'ledger' })
    await tokens.verifyServiceToken(service, 'ledger')
    const answer = tokens[verifyNow](service)
    expect(answer).toBeInstanceOf(Promise)
    await expect(answer).rejects.toMatchObject({ code: 'ERR_SESSION_INVALID_TOKEN', reason: 'type' })
  })

  it('without the cache, every call is a promise', async () => {
    const tokens = make({ cacheSize: 0 })
    const { accessToken } = await tokens.issue({ sub: 'u1' })
    await tokens.verify(accessToken)
    const again = tokens[verifyNow](accessToken)
    expect(again).toBeInstanceOf(Promise)
    await again
  })
})

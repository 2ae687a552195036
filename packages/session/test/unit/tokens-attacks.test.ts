import fc from 'fast-check'
import { afterAll, describe, expect, it } from 'vitest'
import { createTokens, SessionTokenError } from '../../src/index'
import { attacks, AUDIENCE, ISSUER } from '../support/attacks'
import { craft, edKey, nowSec } from '../support/keys'

const key = edKey('k1')
const tokens = createTokens({
  issuer: ISSUER,
  audience: AUDIENCE,
  keys: { keys: [key] },
  algorithms: ['EdDSA'],
})
afterAll(() => tokens.close())

describe('verify() refuses every known attack with a coded reason', async () => {
  const list = await attacks(tokens, key)
  it.each(list)('$name → $reason', async ({ token, reason }) => {
    const error = await tokens.verify(token).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(SessionTokenError)
    expect((error as SessionTokenError).code).toBe('ERR_SESSION_INVALID_TOKEN')
    expect((error as SessionTokenError).reason).toBe(reason)
    expect((error as Error).message).not.toContain(token.slice(0, 20))
  })
})

describe('verify() of good tokens', () => {
  it('accepts its own access token and returns its claims', async () => {
    const { accessToken } = await tokens.issue({ sub: 'u1', roles: ['admin'], claims: { tenant: 't1' } })
    const claims = await tokens.verify(accessToken)
    expect(claims).toMatchObject({ sub: 'u1', iss: ISSUER, aud: AUDIENCE, roles: ['admin'], tenant: 't1' })
    expect(typeof claims.jti).toBe('string')
    expect(typeof claims.sid).toBe('string')
  })

  it('accepts a hand-built token with every claim right (the attacks fail for their one defect)', async () => {
    const now = nowSec()
    const token = craft(
      { alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' },
      { iss: ISSUER, aud: AUDIENCE, sub: 'u1', jti: 'j1', sid: 's1', roles: [], iat: now, exp: now + 60 },
      { key },
    )
    await expect(tokens.verify(token)).resolves.toMatchObject({ sub: 'u1' })
  })

  it('tolerates a small clock skew on exp and nbf, not more', async () => {
    const now = nowSec()
    const claims = { iss: ISSUER, aud: AUDIENCE, sub: 'u1', jti: 'j1', sid: 's1', roles: [], iat: now }
    const header = { alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' }
    await expect(tokens.verify(craft(header, { ...claims, exp: now - 5 }, { key }))).resolves.toBeDefined()
    await expect(
      tokens.verify(craft(header, { ...claims, exp: now + 60, nbf: now + 5 }, { key })),
    ).resolves.toBeDefined()
    await expect(tokens.verify(craft(header, { ...claims, exp: now - 30 }, { key }))).rejects.toMatchObject({
      reason: 'expired',
    })
  })

  it('refuses anything at all with a SessionTokenError, never a raw error (property)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.string(), fc.base64String(), fc.anything()), async (input) => {
        const error = await tokens.verify(input as string).catch((e: unknown) => e)
        expect(error).toBeInstanceOf(SessionTokenError)
      }),
      { numRuns: 300 },
    )
  })
})

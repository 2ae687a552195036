import { afterAll, describe, expect, it } from 'vitest'
import { createTokens, SessionTokenError } from '../../src/index'
import { attacks, AUDIENCE, ISSUER } from '../support/attacks'
import { craft, edKey, esKey, nowSec } from '../support/keys'

// verify() remembers the checked header of a token that verified, so the next token with the same
// encoded header skips decoding it. These tests warm that memory first, then check that nothing else
// about a token is skipped: the attacks, the key lookup, the signature, the kind, the claims.

const key = edKey('k1')
const tokens = createTokens({
  issuer: ISSUER,
  audience: AUDIENCE,
  keys: { keys: [key] },
  algorithms: ['EdDSA'],
})
afterAll(() => tokens.close())

const header = { alg: 'EdDSA', kid: 'k1', typ: 'at+jwt' }
const claims = (): Record<string, unknown> => {
  const now = nowSec()
  return { iss: ISSUER, aud: AUDIENCE, sub: 'u1', jti: 'j1', sid: 's1', roles: [], iat: now, exp: now + 60 }
}

async function reasonOf(work: Promise<unknown>): Promise<string | undefined> {
  const error = await work.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(SessionTokenError)
  return (error as SessionTokenError).reason
}

describe('verify() with the header of a verified token remembered', () => {
  it('still refuses every known attack with its reason', async () => {
    const { accessToken, refreshToken } = await tokens.issue({ sub: 'u1' })
    await tokens.verify(accessToken)
    await tokens.refresh(refreshToken)
    await tokens.verify(craft(header, claims(), { key }))
    for (const { name, token, reason } of await attacks(tokens, key)) {
      expect(await reasonOf(tokens.verify(token)), name).toBe(reason)
      // Twice: a refused token leaves nothing behind.
      expect(await reasonOf(tokens.verify(token)), name).toBe(reason)
    }
  })

  it('still checks the signature of a remembered header', async () => {
    const good = craft(header, claims(), { key })
    await tokens.verify(good)
    const forged = craft(header, { ...claims(), roles: ['admin'] }, { key: edKey('k1') })
    expect(forged.split('.')[0]).toBe(good.split('.')[0])
    expect(await reasonOf(tokens.verify(forged))).toBe('signature')
  })

  it('still checks the claims and the kind of a remembered header', async () => {
    await tokens.verify(craft(header, claims(), { key }))
    const { exp: _exp, ...noExp } = claims()
    expect(await reasonOf(tokens.verify(craft(header, noExp, { key })))).toBe('claims')
    expect(await reasonOf(tokens.verify(craft(header, { ...claims(), aud: 'other' }, { key })))).toBe(
      'audience',
    )
    expect(await reasonOf(tokens.verify(craft(header, { ...claims(), exp: nowSec() - 60 }, { key })))).toBe(
      'expired',
    )
    // A refresh token's header was remembered by refresh(): it is still not an access token.
    const { refreshToken } = await tokens.issue({ sub: 'u1' })
    await tokens.refresh(refreshToken)
    const again = await tokens.issue({ sub: 'u1' })
    expect(await reasonOf(tokens.verify(again.refreshToken))).toBe('type')
  })

  it('still looks the key up: a remembered header of a removed key is refused', async () => {
    const first = edKey('r1')
    const second = edKey('r2')
    const rotating = createTokens({ issuer: ISSUER, audience: AUDIENCE, keys: { keys: [first] } })
    try {
      const { accessToken } = await rotating.issue({ sub: 'u1' })
      await rotating.verify(accessToken)
      await rotating.updateKeys({ keys: [second] })
      expect(await reasonOf(rotating.verify(accessToken))).toBe('unknown-key')
    } finally {
      await rotating.close()
    }
  })

  it('keeps answering once many distinct headers verified (the memory starts again when full)', async () => {
    const many = Array.from({ length: 80 }, (_, i) =>
      craft({ ...header, [`x${i}`]: i }, { ...claims(), jti: `j${i}` }, { key }),
    )
    for (const token of many) await expect(tokens.verify(token)).resolves.toMatchObject({ sub: 'u1' })
    for (const token of many) await expect(tokens.verify(token)).resolves.toMatchObject({ sub: 'u1' })
    const jku = craft({ ...header, x0: 0, jku: 'https://evil.test/jwks.json' }, claims(), { key })
    expect(await reasonOf(tokens.verify(jku))).toBe('header')
  })

  it('answers for its own allow-list only', async () => {
    const es = createTokens({ issuer: ISSUER, audience: AUDIENCE, keys: { keys: [esKey('k1')] } })
    try {
      // Header bytes one service verified are still checked against another's allow-list.
      const token = craft(header, claims(), { key })
      await tokens.verify(token)
      expect(await reasonOf(es.verify(token))).toBe('algorithm')
    } finally {
      await es.close()
    }
  })
})

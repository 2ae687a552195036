import { createPublicKey } from 'node:crypto'
import type { JsonWebKey } from 'node:crypto'
import type { JWK } from 'jose'
import type { TokenReason } from '../../src/errors'
import type { Tokens } from '../../src/index'
import { craft, nowSec } from './keys'

/** One known attack on JWT verification and the reason it must be refused with. */
export interface Attack {
  readonly name: string
  readonly token: string
  readonly reason: TokenReason
}

export const ISSUER = 'https://auth.test'
export const AUDIENCE = 'api'

/**
 * The attack list of issue 14, built against `key` (the signing key of `tokens`): each a token that
 * every adapter must refuse with 401 and the reason given.
 */
export async function attacks(tokens: Tokens, key: JWK): Promise<Attack[]> {
  const kid = key.kid as string
  const header = { alg: 'EdDSA', kid, typ: 'at+jwt' }
  const now = nowSec()
  const claims = {
    iss: ISSUER,
    aud: AUDIENCE,
    sub: 'u1',
    jti: 'j1',
    sid: 's1',
    roles: [],
    iat: now,
    exp: now + 600,
  }
  const signed = (h: Record<string, unknown>, p: Record<string, unknown>): string => craft(h, p, { key })
  const { exp: _exp, ...noExp } = claims
  const { refreshToken, accessToken } = await tokens.issue({ sub: 'u1' })
  const [h, p, s] = accessToken.split('.') as [string, string, string]
  const tamperedPayload = Buffer.from(
    JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), roles: ['admin'] }),
  ).toString('base64url')
  const publicPem = createPublicKey({ key: key as JsonWebKey, format: 'jwk' }).export({
    type: 'spki',
    format: 'pem',
  })
  const flipped = `${s.slice(0, 10)}${s[10] === 'A' ? 'B' : 'A'}${s.slice(11)}`
  return [
    { name: 'a token without exp', token: signed(header, noExp), reason: 'claims' },
    {
      name: 'an unknown crit header',
      token: signed({ ...header, crit: ['exp-x'], 'exp-x': 1 }, claims),
      reason: 'crit',
    },
    { name: 'alg none', token: craft({ alg: 'none', typ: 'at+jwt' }, claims, 'none'), reason: 'algorithm' },
    {
      name: 'HS256 signed with the public key (algorithm confusion)',
      token: craft({ alg: 'HS256', kid, typ: 'at+jwt' }, claims, { hmacSecret: publicPem }),
      reason: 'algorithm',
    },
    {
      name: 'kid with path traversal',
      token: signed({ ...header, kid: '../../../../dev/null' }, claims),
      reason: 'unknown-key',
    },
    {
      name: 'kid with SQL injection',
      token: signed({ ...header, kid: "x' UNION SELECT 'secret' --" }, claims),
      reason: 'unknown-key',
    },
    {
      name: 'a jku header',
      token: signed({ ...header, jku: 'https://evil.test/jwks.json' }, claims),
      reason: 'header',
    },
    {
      name: 'an x5u header',
      token: signed({ ...header, x5u: 'https://evil.test/cert.pem' }, claims),
      reason: 'header',
    },
    {
      name: 'an embedded jwk header',
      token: signed({ ...header, jwk: { kty: 'OKP' } }, claims),
      reason: 'header',
    },
    {
      name: 'expired',
      token: signed(header, { ...claims, iat: now - 7200, exp: now - 3600 }),
      reason: 'expired',
    },
    { name: 'not yet valid', token: signed(header, { ...claims, nbf: now + 3600 }), reason: 'not-yet-valid' },
    {
      name: 'a wrong issuer',
      token: signed(header, { ...claims, iss: 'https://evil.test' }),
      reason: 'issuer',
    },
    { name: 'a wrong audience', token: signed(header, { ...claims, aud: 'other-api' }), reason: 'audience' },
    { name: 'a tampered payload', token: `${h}.${tamperedPayload}.${s}`, reason: 'signature' },
    { name: 'a bad signature', token: `${h}.${p}.${flipped}`, reason: 'signature' },
    { name: 'malformed base64', token: `${h}.${p}!!.${s}`, reason: 'malformed' },
    { name: 'a header that is not JSON', token: `bm90IGpzb24.${p}.${s}`, reason: 'malformed' },
    {
      name: 'a 100 KB token',
      token: signed(header, { ...claims, pad: 'x'.repeat(100_000) }),
      reason: 'too-large',
    },
    { name: 'a refresh token used as an access token', token: refreshToken, reason: 'type' },
    { name: 'a wrong typ', token: signed({ ...header, typ: 'JWT' }, claims), reason: 'type' },
  ]
}

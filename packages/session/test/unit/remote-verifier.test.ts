import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createRemoteVerifier, createTokens, SessionOptionsError } from '../../src/index'
import { craft, edKey, nowSec } from '../support/keys'

/** An identity provider: its tokens come from createTokens, its keys from a local JWKS endpoint. */
const key = edKey('idp-1')
const idp = createTokens({ issuer: 'https://idp.test', audience: 'api', keys: { keys: [key] } })
const server = createServer((_req, res) => {
  void idp.publicKeys().then((jwks) => {
    res.setHeader('content-type', 'application/json')
    res.end(JSON.stringify(jwks))
  })
})
let jwksUrl = ''
beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  jwksUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`
})
afterAll(async () => {
  await idp.close()
  await new Promise((resolve) => server.close(resolve))
})

describe('createRemoteVerifier', () => {
  it('verifies a token with a key fetched from the JWKS, with the same checks', async () => {
    const verifier = createRemoteVerifier({
      jwksUrl,
      issuer: 'https://idp.test',
      audience: 'api',
      algorithms: ['EdDSA'],
      typ: 'at+jwt',
    })
    const { accessToken } = await idp.issue({ sub: 'u1' })
    await expect(verifier.verify(accessToken)).resolves.toMatchObject({ sub: 'u1' })
    const now = nowSec()
    const claims = { iss: 'https://idp.test', aud: 'api', sub: 'u', iat: now, exp: now + 60 }
    await expect(
      verifier.verify(craft({ alg: 'EdDSA', kid: 'other', typ: 'at+jwt' }, claims, { key: edKey('other') })),
    ).rejects.toMatchObject({
      reason: 'unknown-key',
    })
    await expect(
      verifier.verify(
        craft({ alg: 'EdDSA', kid: 'idp-1', typ: 'at+jwt', jku: 'https://evil.test' }, claims, { key }),
      ),
    ).rejects.toMatchObject({ reason: 'header' })
    await expect(
      verifier.verify(craft({ alg: 'HS256', kid: 'idp-1', typ: 'at+jwt' }, claims, { hmacSecret: 'x' })),
    ).rejects.toMatchObject({
      reason: 'algorithm',
    })
  })

  it('refuses with ERR_SESSION_KEYS_UNAVAILABLE (503) when the JWKS endpoint does not answer', async () => {
    const verifier = createRemoteVerifier({
      jwksUrl: 'http://127.0.0.1:9/jwks.json',
      issuer: 'https://idp.test',
      audience: 'api',
      algorithms: ['EdDSA'],
      timeout: '1s',
    })
    const { accessToken } = await idp.issue({ sub: 'u1' })
    await expect(verifier.verify(accessToken)).rejects.toMatchObject({
      code: 'ERR_SESSION_KEYS_UNAVAILABLE',
      retryAfter: 1,
    })
  })

  it('refuses symmetric algorithms and a bad URL at construction', () => {
    const base = { jwksUrl: 'https://idp.test/jwks', issuer: 'i', audience: 'a' }
    expect(() => createRemoteVerifier({ ...base, algorithms: ['HS256'] })).toThrow(SessionOptionsError)
    expect(() => createRemoteVerifier({ ...base, jwksUrl: 'not a url', algorithms: ['RS256'] })).toThrow(
      SessionOptionsError,
    )
  })
})

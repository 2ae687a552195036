import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import type { VerifyEvent } from '../../src/index'
import { createTokens, SessionArgumentError, SessionOptionsError, SessionTokenError } from '../../src/index'
import { AUDIENCE, ISSUER } from '../support/attacks'
import { edKey, esKey } from '../support/keys'

const base = { issuer: ISSUER, audience: AUDIENCE }

describe('createTokens options', () => {
  const k = edKey('k1')
  const { d: _d, ...publicK } = k
  it.each([
    ['no keys', { keys: { keys: [] } }, /keys must be a JWK Set/],
    ['a key without kid', { keys: { keys: [{ ...k, kid: undefined }] } }, /needs a kid/],
    ['a kid used twice', { keys: { keys: [k, { ...edKey('x'), kid: 'k1' }] } }, /used twice/],
    ['a public first key', { keys: { keys: [publicK] } }, /must be a private key/],
    ['none in the allow-list', { keys: { keys: [k] }, algorithms: ['none'] }, /must not contain 'none'/],
    [
      'a key outside the allow-list',
      { keys: { keys: [k] }, algorithms: ['ES256'] },
      /not in the algorithms allow-list/,
    ],
    [
      'a short HS256 secret',
      { keys: { keys: [{ kty: 'oct', kid: 'h', k: randomBytes(16).toString('base64url') }] } },
      /at least 32 bytes/,
    ],
    ['broken key material', { keys: { keys: [{ ...k, x: 'AAAA' }] } }, /not a usable EdDSA key/],
    [
      'a bad duration',
      { keys: { keys: [k] }, accessTokenTtl: '15 minutes' },
      /accessTokenTtl must be a duration/,
    ],
    ['a huge max token size', { keys: { keys: [k] }, maxTokenSize: 1e9 }, /maxTokenSize/],
    ['no audience', { keys: { keys: [k] }, audience: [] }, /audience/],
    ['a redis that is not a client', { keys: { keys: [k] }, redis: {} }, /redis must be an ioredis/],
  ])('refuses %s with ERR_SESSION_INVALID_OPTIONS', (_name, options, message) => {
    const build = (): unknown =>
      createTokens({ ...base, ...(options as object) } as Parameters<typeof createTokens>[0])
    expect(build).toThrow(SessionOptionsError)
    expect(build).toThrow(message)
  })
})

describe('key rotation', () => {
  it('a new first key signs, the old one still verifies until it is removed', async () => {
    const oldKey = edKey('old')
    const newKey = esKey('new')
    const before = createTokens({ ...base, keys: { keys: [oldKey] }, algorithms: ['EdDSA', 'ES256'] })
    const issuedBefore = (await before.issue({ sub: 'u' })).accessToken
    const after = createTokens({ ...base, keys: { keys: [newKey, oldKey] }, algorithms: ['EdDSA', 'ES256'] })
    const issuedAfter = (await after.issue({ sub: 'u' })).accessToken
    expect(
      JSON.parse(Buffer.from(issuedAfter.split('.')[0] as string, 'base64url').toString()),
    ).toMatchObject({ kid: 'new', alg: 'ES256' })
    await expect(after.verify(issuedBefore)).resolves.toMatchObject({ sub: 'u' })
    await after.updateKeys({ keys: [newKey] })
    await expect(after.verify(issuedBefore)).rejects.toMatchObject({ reason: 'unknown-key' })
    await expect(after.verify(issuedAfter)).resolves.toMatchObject({ sub: 'u' })
    await expect(before.verify(issuedAfter)).rejects.toMatchObject({ reason: 'unknown-key' })
    await Promise.all([before.close(), after.close()])
  })

  it('updateKeys refuses a key outside the allow-list with ERR_SESSION_INVALID_ARGUMENT', async () => {
    const tokens = createTokens({ ...base, keys: { keys: [edKey('a')] } })
    await expect(tokens.updateKeys({ keys: [esKey('b')] })).rejects.toBeInstanceOf(SessionArgumentError)
    await tokens.close()
  })

  it('publishes only public key members', async () => {
    const tokens = createTokens({
      ...base,
      keys: { keys: [edKey('a'), esKey('b')] },
      algorithms: ['EdDSA', 'ES256'],
    })
    const { keys } = await tokens.publicKeys()
    expect(keys.map((k) => k.kid)).toEqual(['a', 'b'])
    for (const k of keys) expect(k.d).toBeUndefined()
    await tokens.close()
  })
})

describe('stateless mode (no redis)', () => {
  it('says so, refreshes without reuse detection, and refuses revoke()', async () => {
    const tokens = createTokens({ ...base, keys: { keys: [edKey('a')] } })
    expect(tokens.health()).toMatchObject({ status: 'ok', stateless: true, revocation: undefined })
    const pair = await tokens.issue({ sub: 'u', roles: ['r'] })
    const next = await tokens.refresh(pair.refreshToken)
    await expect(tokens.verify(next.accessToken)).resolves.toMatchObject({ sub: 'u', roles: ['r'] })
    await expect(tokens.refresh(pair.accessToken)).rejects.toMatchObject({ reason: 'type' })
    await expect(tokens.revoke({ sub: 'u' })).rejects.toThrow(/live until they expire/)
    await tokens.close()
    expect(tokens.health().status).toBe('closed')
    await expect(tokens.verify(next.accessToken)).rejects.toMatchObject({ code: 'ERR_SESSION_CLOSED' })
  })

  it('refuses registered claim names and bad subjects before signing', async () => {
    const tokens = createTokens({ ...base, keys: { keys: [edKey('a')] } })
    await expect(tokens.issue({ sub: 'u', claims: { exp: 1 } })).rejects.toBeInstanceOf(SessionArgumentError)
    await expect(tokens.issue({ sub: '' })).rejects.toBeInstanceOf(SessionArgumentError)
    await expect(tokens.issue({ sub: 'u', roles: 'admin' as never })).rejects.toBeInstanceOf(
      SessionArgumentError,
    )
    await tokens.close()
  })
})

describe('service tokens', () => {
  it('are accepted by the named audience only, and never as access tokens', async () => {
    const tokens = createTokens({ ...base, keys: { keys: [edKey('a')] } })
    const token = await tokens.issueServiceToken({
      sub: 'billing',
      audience: 'ledger',
      scopes: ['ledger:write'],
    })
    await expect(tokens.verifyServiceToken(token, 'ledger')).resolves.toMatchObject({
      sub: 'billing',
      scopes: ['ledger:write'],
    })
    await expect(tokens.verifyServiceToken(token, 'mailer')).rejects.toMatchObject({ reason: 'audience' })
    await expect(tokens.verify(token)).rejects.toMatchObject({ reason: 'type' })
    const { accessToken } = await tokens.issue({ sub: 'u' })
    await expect(tokens.verifyServiceToken(accessToken, AUDIENCE)).rejects.toBeInstanceOf(SessionTokenError)
    await tokens.close()
  })
})

describe('verified-token cache', () => {
  it('answers a repeated token from the cache, and not after the keys change', async () => {
    const key = edKey('a')
    const tokens = createTokens({ ...base, keys: { keys: [key] } })
    const events: VerifyEvent[] = []
    const listener = (e: unknown): void => {
      events.push(e as VerifyEvent)
    }
    subscribe('scalekit:session:verify', listener)
    try {
      const { accessToken } = await tokens.issue({ sub: 'u' })
      await tokens.verify(accessToken)
      await tokens.verify(accessToken)
      await tokens.updateKeys({ keys: [key] })
      await tokens.verify(accessToken)
      expect(events.map((e) => e.cached)).toEqual([false, true, false])
      expect(tokens.health().cachedTokens).toBe(1)
    } finally {
      unsubscribe('scalekit:session:verify', listener)
      await tokens.close()
    }
  })

  it('answers only for the rules a token was verified by', async () => {
    const tokens = createTokens({ ...base, keys: { keys: [edKey('a')] } })
    const token = await tokens.issueServiceToken({ sub: 'billing', audience: 'ledger' })
    await expect(tokens.verifyServiceToken(token, 'ledger')).resolves.toMatchObject({ sub: 'billing' })
    await expect(tokens.verifyServiceToken(token, 'ledger')).resolves.toMatchObject({ sub: 'billing' })
    await expect(tokens.verifyServiceToken(token, 'mailer')).rejects.toMatchObject({ reason: 'audience' })
    await expect(tokens.verify(token)).rejects.toMatchObject({ reason: 'type' })
    const { accessToken } = await tokens.issue({ sub: 'u' })
    await tokens.verify(accessToken)
    await expect(tokens.verifyServiceToken(accessToken, AUDIENCE)).rejects.toBeInstanceOf(SessionTokenError)
    await tokens.close()
  })

  it('checks revocation on every hit, and keeps out a result that was being verified when revocations changed', async () => {
    const tokens = createTokens({ ...base, keys: { keys: [edKey('a')] }, store: 'memory' })
    const { accessToken } = await tokens.issue({ sub: 'u' })
    const other = await tokens.issue({ sub: 'v' })
    await tokens.verify(accessToken)
    await tokens.verify(accessToken)
    // A verification in flight (its signature check is off the main thread) while revocations change:
    const inFlight = tokens.verify(other.accessToken)
    await tokens.revoke({ jti: 'someone-else' })
    await inFlight
    expect(tokens.health().cachedTokens).toBe(0)
    await tokens.verify(accessToken)
    await tokens.revoke({ sub: 'u' })
    await expect(tokens.verify(accessToken)).rejects.toMatchObject({ reason: 'user' })
    await tokens.close()
  })
})

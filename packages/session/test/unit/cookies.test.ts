import { describe, expect, it } from 'vitest'
import {
  readCookie,
  resolveCookie,
  serializeCookie,
  signValue,
  unsignValue,
} from '../../src/adapters/cookies'
import { checkCrossSite, errorReply } from '../../src/adapters/http'
import { SessionOptionsError, SessionTokenError, SessionStoreError } from '../../src/index'

const secret = 's'.repeat(32)

describe('session cookie', () => {
  it('is strict by default: __Host-, Secure, HttpOnly, SameSite=Lax, Path=/, no Domain', () => {
    const cookie = resolveCookie({ secret }, 'test')
    expect(serializeCookie(cookie, 'v', 60)).toBe(
      '__Host-sid=v; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=60',
    )
    expect(serializeCookie(cookie, undefined, 60)).toContain('Max-Age=0')
  })

  it('is relaxed only explicitly, and never into a combination browsers refuse', () => {
    expect(resolveCookie({ secret, secure: false }, 't')).toMatchObject({ name: 'sid', secure: false })
    expect(() => resolveCookie({ secret, secure: false, hostPrefix: true }, 't')).toThrow(SessionOptionsError)
    expect(() => resolveCookie({ secret, secure: false, sameSite: 'none' }, 't')).toThrow(SessionOptionsError)
    expect(() => resolveCookie({ secret: 'short' }, 't')).toThrow(/at least 32 characters/)
    expect(() => resolveCookie({ secret, name: 'a;b' }, 't')).toThrow(SessionOptionsError)
  })

  it('is signed: a changed value or signature is refused; an older secret still verifies', () => {
    const cookie = resolveCookie({ secret }, 't')
    const signed = signValue('abc', cookie)
    expect(unsignValue(signed, cookie)).toBe('abc')
    expect(unsignValue(signed.replace('abc', 'abd'), cookie)).toBeUndefined()
    expect(unsignValue(`${signed}x`, cookie)).toBeUndefined()
    expect(unsignValue('nodot', cookie)).toBeUndefined()
    const rotated = resolveCookie({ secret: ['n'.repeat(32), secret] }, 't')
    expect(unsignValue(signed, rotated)).toBe('abc')
  })

  it('reads one cookie and ignores oversized ones', () => {
    expect(readCookie('a=1; __Host-sid=xyz; b=2', '__Host-sid')).toBe('xyz')
    expect(readCookie(`__Host-sid=${'x'.repeat(600)}`, '__Host-sid')).toBeUndefined()
    expect(readCookie(undefined, '__Host-sid')).toBeUndefined()
  })
})

describe('cross-site check (CSRF)', () => {
  const host = 'app.test'
  it.each([
    ['POST', { origin: 'https://evil.test', host }, true],
    ['POST', { origin: 'null', host }, true],
    ['POST', { 'sec-fetch-site': 'cross-site', host }, true],
    ['DELETE', { 'sec-fetch-site': 'same-site', host }, true],
    ['POST', { origin: 'https://app.test', host, 'sec-fetch-site': 'same-origin' }, false],
    ['POST', { 'sec-fetch-site': 'none', host }, false],
    ['POST', { host }, false],
    ['GET', { origin: 'https://evil.test', host }, false],
    ['POST', { origin: 'https://partner.test', host }, false],
  ])('%s %j refused: %s', (method, headers, refused) => {
    const run = (): void => {
      checkCrossSite(method, headers, ['https://partner.test'])
    }
    if (refused) expect(run).toThrow(expect.objectContaining({ code: 'ERR_SESSION_CROSS_SITE' }) as Error)
    else expect(run).not.toThrow()
  })
})

describe('error replies (one table for both adapters)', () => {
  it('maps codes to statuses with WWW-Authenticate on 401 and nothing leaked on 500', () => {
    expect(errorReply(new SessionTokenError('x', { reason: 'expired' }))).toEqual({
      status: 401,
      headers: {
        'www-authenticate': 'Bearer realm="api", error="invalid_token", error_description="expired"',
      },
      body: { code: 'ERR_SESSION_INVALID_TOKEN', reason: 'expired' },
    })
    expect(errorReply(new SessionStoreError('down')).status).toBe(503)
    expect(errorReply(new Error('secret detail'))).toEqual({
      status: 500,
      headers: {},
      body: { code: 'ERR_INTERNAL' },
    })
  })
})

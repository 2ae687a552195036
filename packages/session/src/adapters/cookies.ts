import { createHmac, timingSafeEqual } from 'node:crypto'
import { createChecks, describeValue } from '@scalekit/internal'
import type { Checks } from '@scalekit/internal'
import { SessionOptionsError } from '../errors'

/** How the session cookie is written. The defaults are the strict ones; each relaxation is explicit. */
export interface CookieOptions {
  /**
   * Secrets the cookie is signed with (HMAC-SHA256), at least 32 characters each: the first signs,
   * all verify (rotate by putting a new one first).
   */
  readonly secret: string | readonly string[]
  /** The cookie's name, after the `__Host-` prefix. @default 'sid' */
  readonly name?: string
  /**
   * `Secure` (HTTPS only). `false` is for local HTTP development only; it also drops the `__Host-`
   * prefix, which browsers accept only on secure cookies. @default true
   */
  readonly secure?: boolean
  /** @default 'lax' */
  readonly sameSite?: 'lax' | 'strict' | 'none'
  /**
   * The `__Host-` prefix: the browser then refuses the cookie unless it is Secure, has `Path=/` and
   * no `Domain`, so a sibling subdomain cannot set or shadow it. @default true
   */
  readonly hostPrefix?: boolean
}

/** The cookie settings once checked. */
export interface ResolvedCookie {
  readonly name: string
  readonly secrets: readonly string[]
  readonly secure: boolean
  readonly sameSite: 'Lax' | 'Strict' | 'None'
}

/** Browsers keep cookies up to 4096 bytes (name, value and attributes): a bigger one is refused here. */
export const MAX_COOKIE_BYTES = 4096

const checks: Checks = createChecks(SessionOptionsError)

/** Checks the cookie options once (at construction of a middleware or plugin). */
export function resolveCookie(options: CookieOptions | undefined, where: string): ResolvedCookie {
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    checks.fail(`${where}: cookie must be an object with a secret, got ${describeValue(given)}`)
  const secrets = typeof options?.secret === 'string' ? [options.secret] : options?.secret
  if (
    !Array.isArray(secrets) ||
    secrets.length === 0 ||
    secrets.some((s) => typeof s !== 'string' || s.length < 32)
  )
    checks.fail(`${where}: cookie.secret must be a string of at least 32 characters, or a list of them`)
  const name = options?.name ?? 'sid'
  if (typeof name !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(name))
    checks.fail(`${where}: cookie.name must be 1-64 letters, digits, - or _, got ${describeValue(name)}`)
  const secure = checks.boolean(`${where}: cookie.secure`, options?.secure, true)
  const sameSite = checks.oneOf(`${where}: cookie.sameSite`, options?.sameSite, 'lax', [
    'lax',
    'strict',
    'none',
  ])
  if (sameSite === 'none' && !secure) checks.fail(`${where}: cookie.sameSite 'none' needs secure: true`)
  const hostPrefix = checks.boolean(`${where}: cookie.hostPrefix`, options?.hostPrefix, secure)
  if (hostPrefix && !secure) checks.fail(`${where}: cookie.hostPrefix needs secure: true`)
  return {
    name: hostPrefix ? `__Host-${name}` : name,
    secrets,
    secure,
    sameSite: sameSite === 'lax' ? 'Lax' : sameSite === 'strict' ? 'Strict' : 'None',
  }
}

function mac(value: string, secret: string): string {
  return createHmac('sha256', secret).update(value).digest('base64url')
}

/** `value.signature`. */
export function signValue(value: string, cookie: ResolvedCookie): string {
  return `${value}.${mac(value, cookie.secrets[0] as string)}`
}

/** The value of a signed cookie if one of the secrets signed it (compared in constant time), else undefined. */
export function unsignValue(signed: string, cookie: ResolvedCookie): string | undefined {
  const dot = signed.lastIndexOf('.')
  if (dot <= 0) return undefined
  const value = signed.slice(0, dot)
  const given = Buffer.from(signed.slice(dot + 1))
  for (const secret of cookie.secrets) {
    const expected = Buffer.from(mac(value, secret))
    if (expected.length === given.length && timingSafeEqual(expected, given)) return value
  }
  return undefined
}

/** The value of cookie `name` in a `Cookie` header (the first one), or undefined; oversized values are ignored. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined || header.length > 8192) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0 || part.slice(0, eq).trim() !== name) continue
    const value = part.slice(eq + 1).trim()
    return value.length > 512 ? undefined : value
  }
  return undefined
}

/** A `Set-Cookie` value: the session cookie, or (with `value` undefined) its removal. */
export function serializeCookie(
  cookie: ResolvedCookie,
  value: string | undefined,
  maxAgeSec: number,
): string {
  const parts = [`${cookie.name}=${value ?? ''}`, 'Path=/', 'HttpOnly', `SameSite=${cookie.sameSite}`]
  if (cookie.secure) parts.push('Secure')
  parts.push(`Max-Age=${value === undefined ? 0 : Math.max(0, Math.floor(maxAgeSec))}`)
  const text = parts.join('; ')
  if (Buffer.byteLength(text) > MAX_COOKIE_BYTES)
    throw new SessionOptionsError(`the session cookie would exceed ${MAX_COOKIE_BYTES} bytes`)
  return text
}

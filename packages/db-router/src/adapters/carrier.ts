import type { IncomingHttpHeaders, OutgoingHttpHeader } from 'node:http'
import { describeValue, onlyKnownOptions } from '@scalekit/internal'
import { DbRouterOptionsError } from '../errors'
import type { DbRouter } from '../types'

/** How the adapters carry the consistency token between requests. */
export interface ConsistencyCarrierOptions {
  /** Request header read, and response header set after a write. `false` turns it off. @default 'x-consistency-token' */
  header?: string | false
  /**
   * A cookie carrying the token, for browsers. `true` uses the defaults below. @default false
   * (header only: a cookie is opt-in so a JSON API does not start setting cookies).
   */
  cookie?:
    | boolean
    | {
        /** @default 'sk_consistency' */
        name?: string
        /** Seconds: long enough for any healthy replica to catch up. @default 60 */
        maxAge?: number
        /** @default '/' */
        path?: string
        /** @default true */
        secure?: boolean
        /** @default 'lax' */
        sameSite?: 'lax' | 'strict' | 'none'
      }
  /** A malformed or forged token: `ignore` reads as if none was sent; `reject` answers 400 (`ERR_DB_INVALID_TOKEN`). @default 'ignore' */
  onInvalidToken?: 'ignore' | 'reject'
  /**
   * Take unsigned tokens from clients. A token names a WAL position the request's reads wait for,
   * so a client that can send any token can make reads wait and go to the primary: the adapters
   * refuse to start (`ERR_DB_INVALID_OPTIONS`) on a router without `consistency.secret` unless this
   * is `true` — for a trusted network only. (The router also clamps a token ahead of the primary's
   * own position, and the fallback budget holds.) @default false
   */
  acceptUnsigned?: boolean
}

const CARRIER_NAMES = ['header', 'cookie', 'onInvalidToken', 'acceptUnsigned']
const COOKIE_NAMES = ['name', 'maxAge', 'path', 'secure', 'sameSite']
const check = {
  fail: (message: string): never => {
    throw new DbRouterOptionsError(message)
  },
}

/** Resolved carrier settings. */
export interface Carrier {
  readonly header: string | undefined
  readonly cookie:
    { name: string; maxAge: number; path: string; secure: boolean; sameSite: string } | undefined
  readonly reject: boolean
}

/**
 * Applies the carrier defaults, checking every option (`ERR_DB_INVALID_OPTIONS`), and refuses a router
 * whose tokens are unsigned unless `acceptUnsigned` says so. `extra` are the adapter's own option names.
 */
export function resolveCarrier(
  db: DbRouter,
  options: ConsistencyCarrierOptions = {},
  extra: readonly string[] = [],
): Carrier {
  const router: unknown = db
  if (typeof (router as Partial<DbRouter> | null | undefined)?.withConsistency !== 'function')
    check.fail(`the consistency adapter needs the router (createDbRouter()), got ${describeValue(router)}`)
  const given: unknown = options
  if (typeof given !== 'object' || given === null)
    check.fail(`the consistency adapter's options must be an object, got ${describeValue(given)}`)
  onlyKnownOptions(check, '', options, [...CARRIER_NAMES, ...extra])
  if (options.header !== undefined && options.header !== false && !isHeaderName(options.header))
    check.fail(`header must be an HTTP header name or false, got ${describeValue(options.header)}`)
  const onInvalid: unknown = options.onInvalidToken
  if (onInvalid !== undefined && onInvalid !== 'ignore' && onInvalid !== 'reject')
    check.fail(`onInvalidToken must be 'ignore' or 'reject', got ${describeValue(onInvalid)}`)
  if (options.acceptUnsigned !== undefined && typeof options.acceptUnsigned !== 'boolean')
    check.fail(`acceptUnsigned must be true or false, got ${describeValue(options.acceptUnsigned)}`)
  // A router without a secret takes unsigned tokens (public API only: the adapters are thin).
  if (db.isValidToken('1.0') && options.acceptUnsigned !== true)
    check.fail(
      'the consistency adapter takes tokens from clients, and this router does not sign them: set consistency.secret on the router (a client could otherwise send any position), or pass acceptUnsigned: true on a trusted network',
    )
  const header =
    options.header === false ? undefined : (options.header ?? 'x-consistency-token').toLowerCase()
  if (options.cookie !== undefined && typeof options.cookie !== 'boolean')
    onlyKnownOptions(check, 'cookie', cookieGroup(options.cookie), COOKIE_NAMES)
  const c =
    options.cookie === true
      ? {}
      : options.cookie === false || options.cookie === undefined
        ? undefined
        : options.cookie
  const cookie =
    c === undefined
      ? undefined
      : {
          name: c.name ?? 'sk_consistency',
          maxAge: c.maxAge ?? 60,
          path: c.path ?? '/',
          secure: c.secure ?? true,
          sameSite: c.sameSite ?? 'lax',
        }
  if (cookie !== undefined) {
    if (typeof cookie.name !== 'string' || !/^[\w.-]+$/.test(cookie.name))
      check.fail(`cookie.name must be a cookie name ([A-Za-z0-9_.-]), got ${describeValue(cookie.name)}`)
    if (!(Number.isSafeInteger(cookie.maxAge) && cookie.maxAge > 0))
      check.fail(`cookie.maxAge must be a whole number of seconds > 0, got ${describeValue(cookie.maxAge)}`)
    if (typeof cookie.path !== 'string' || !/^\/[\x21-\x3a\x3c-\x7e]*$/.test(cookie.path))
      check.fail(`cookie.path must be a path starting with /, got ${describeValue(cookie.path)}`)
    if (typeof cookie.secure !== 'boolean')
      check.fail(`cookie.secure must be true or false, got ${describeValue(cookie.secure)}`)
    if (!['lax', 'strict', 'none'].includes(cookie.sameSite))
      check.fail(`cookie.sameSite must be 'lax', 'strict' or 'none', got ${describeValue(cookie.sameSite)}`)
  }
  return { header, cookie, reject: options.onInvalidToken === 'reject' }
}

function cookieGroup(value: unknown): object {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return check.fail(`cookie must be true, false or an object, got ${describeValue(value)}`)
  return value
}

/** An HTTP header name (RFC 9110 token). */
function isHeaderName(value: unknown): value is string {
  return typeof value === 'string' && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(value)
}

/** What a request carried: a usable token, none, or an invalid one. */
export type Incoming = { kind: 'token'; token: string } | { kind: 'none' } | { kind: 'invalid' }

/** Reads the token from the header, else the cookie, and validates it with the router. */
export function readIncoming(db: DbRouter, carrier: Carrier, headers: IncomingHttpHeaders): Incoming {
  let token: string | undefined
  if (carrier.header !== undefined) {
    const value = headers[carrier.header]
    token = Array.isArray(value) ? value[0] : value
  }
  if ((token === undefined || token === '') && carrier.cookie !== undefined)
    token = readCookie(headers.cookie, carrier.cookie.name)
  if (token === undefined || token === '') return { kind: 'none' }
  return db.isValidToken(token) ? { kind: 'token', token } : { kind: 'invalid' }
}

/** The headers to add to a response whose scope wrote (its token differs from the one it came with). */
export function outgoing(
  carrier: Carrier,
  token: string | undefined,
  incoming: string | undefined,
): [string, string][] {
  if (token === undefined || token === incoming) return []
  const out: [string, string][] = []
  if (carrier.header !== undefined) out.push([carrier.header, token])
  const c = carrier.cookie
  if (c !== undefined) {
    out.push([
      'set-cookie',
      `${c.name}=${token}; Max-Age=${c.maxAge}; Path=${c.path}; HttpOnly; SameSite=${capitalise(c.sameSite)}${c.secure ? '; Secure' : ''}`,
    ])
  }
  return out
}

/** Appends `set-cookie` to what is already set rather than replacing it. */
export function mergeHeader(
  existing: OutgoingHttpHeader | undefined,
  name: string,
  value: string,
): string | string[] {
  if (name !== 'set-cookie' || existing === undefined) return value
  return [...(Array.isArray(existing) ? existing : [String(existing)]), value]
}

function readCookie(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}

function capitalise(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1)
}

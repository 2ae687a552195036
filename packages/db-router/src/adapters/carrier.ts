import type { IncomingHttpHeaders, OutgoingHttpHeader } from 'node:http'
import { DbRouterArgumentError } from '../errors'
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
}

/** Resolved carrier settings. */
export interface Carrier {
  readonly header: string | undefined
  readonly cookie:
    { name: string; maxAge: number; path: string; secure: boolean; sameSite: string } | undefined
  readonly reject: boolean
}

/** Applies the carrier defaults. */
export function resolveCarrier(options: ConsistencyCarrierOptions = {}): Carrier {
  const header =
    options.header === false ? undefined : (options.header ?? 'x-consistency-token').toLowerCase()
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
  if (cookie !== undefined && !/^[\w.-]+$/.test(cookie.name))
    throw new DbRouterArgumentError(`invalid cookie name ${cookie.name}`)
  return { header, cookie, reject: options.onInvalidToken === 'reject' }
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

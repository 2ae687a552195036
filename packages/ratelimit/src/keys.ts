import { createHash } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { isIP, isIPv4 } from 'node:net'
import { describeValue } from '@scalekit/internal'
import { RateLimitOptionsError } from './errors'

/** What the key helpers read from a request; the Express and Fastify adapters build it. */
export interface RateLimitRequest {
  /** The TCP peer's address (`socket.remoteAddress`), never a header. */
  readonly remoteAddress: string | undefined
  readonly headers: IncomingHttpHeaders
  /** `req.user` / `request.user` as an authentication layer set it (e.g. @scalekit/session's claims). */
  readonly user: unknown
  /** The matched route's template (`/users/:id`), when the framework knows it. */
  readonly route: string | undefined
  readonly method: string
  /** The path without the query string. */
  readonly path: string
}

/** Names the bucket a request counts against; `undefined` skips this limiter for the request. */
export type KeyFunction = (req: RateLimitRequest) => string | undefined

/**
 * The authenticated user: `user.sub` (JWT claims, as @scalekit/session sets them) or `user.id`.
 * Anonymous requests get no key (the limiter is skipped): pair it with {@link byIp} for those.
 */
export function byUser(): KeyFunction {
  return (req) => {
    const user = req.user as { sub?: unknown; id?: unknown } | null | undefined
    const id = user?.sub ?? user?.id
    return typeof id === 'string' || typeof id === 'number' ? `user:${String(id)}` : undefined
  }
}

/** Options of {@link byApiKey}. */
export interface ByApiKeyOptions {
  /** The request header that carries the key. @default 'x-api-key' */
  readonly header?: string
}

/**
 * The API key a request presents, hashed (SHA-256): the key itself never reaches Redis. Requests
 * without one get no key (the limiter is skipped).
 */
export function byApiKey(options: ByApiKeyOptions = {}): KeyFunction {
  const header = (options.header ?? 'x-api-key').toLowerCase()
  return (req) => {
    const value = req.headers[header]
    const key = Array.isArray(value) ? value[0] : value
    if (key === undefined || key === '') return undefined
    return `apikey:${createHash('sha256').update(key).digest('base64url').slice(0, 32)}`
  }
}

/** Options of {@link byIp}. */
export interface ByIpOptions {
  /**
   * Addresses or CIDR ranges of your own proxies and load balancers (`'10.0.0.0/8'`, `'::1'`).
   * `X-Forwarded-For` is read only when the TCP peer is one of them, and then only past them (from
   * the right): a client cannot pick its key by sending the header itself.
   * @default [] (the header is never read)
   */
  readonly trustedProxies?: readonly string[]
  /** IPv6 clients are keyed by their network of this prefix length (one host usually owns a /64). @default 64 */
  readonly ipv6Subnet?: number
}

/** The client's address, trusted-proxy aware; IPv6 clients by their /64 (see {@link ByIpOptions}). */
export function byIp(options: ByIpOptions = {}): KeyFunction {
  const trusted = (options.trustedProxies ?? []).map(parseRange)
  const subnet = options.ipv6Subnet ?? 64
  if (!Number.isInteger(subnet) || subnet < 1 || subnet > 128)
    throw new RateLimitOptionsError(
      `byIp: ipv6Subnet must be a whole number from 1 to 128, got ${describeValue(subnet)}`,
    )
  // Not Node's BlockList: its check() cost is measured in benchmarks/README.md (ratelimit section).
  const isTrusted =
    trusted.length === 0
      ? () => false
      : (address: string): boolean => {
          const groups = groupsOf(address)
          return trusted.some((range) => inRange(groups, range))
        }
  return (req) => {
    const address = clientAddress(req, isTrusted)
    if (address === undefined) return undefined
    return isIPv4(address) ? `ip:${address}` : `ip:${ipv6Network(address, subnet)}/${subnet}`
  }
}

/** The route's template and method (`GET /users/:id`): one limit per endpoint. Unmatched requests share `unmatched`. */
export function byRoute(): KeyFunction {
  return (req) => `route:${req.method} ${req.route ?? 'unmatched'}`
}

/** Several keys as one (`byRoute()` and `byUser()`: per user per route); none when any part has none. */
export function combineKeys(...parts: readonly KeyFunction[]): KeyFunction {
  return (req) => {
    const keys: string[] = []
    for (const part of parts) {
      const key = part(req)
      if (key === undefined) return undefined
      keys.push(key)
    }
    return keys.join('|')
  }
}

/** A trusted range: its address as eight 16-bit groups (IPv4 as `::ffff:a.b.c.d`) and its prefix length there. */
interface Range {
  readonly groups: readonly number[]
  readonly bits: number
}

function parseRange(entry: string): Range {
  const [address = '', prefix] = entry.split('/')
  const bare = unmapped(address)
  const family = isIP(bare)
  const bits = prefix === undefined ? (family === 4 ? 32 : 128) : Number(prefix)
  if (family === 0 || !Number.isInteger(bits) || bits < 0 || bits > (family === 4 ? 32 : 128))
    throw new RateLimitOptionsError(
      `byIp: trustedProxies entries must be IP addresses or CIDR ranges ('10.0.0.0/8', '::1'), got ${describeValue(entry)}`,
    )
  return { groups: groupsOf(bare), bits: family === 4 ? 96 + bits : bits }
}

/** Eight 16-bit groups of an IP address; an IPv4 address as its IPv4-mapped IPv6 form. */
function groupsOf(address: string): number[] {
  if (isIPv4(address)) {
    const [a = 0, b = 0, c = 0, d = 0] = address.split('.').map(Number)
    return [0, 0, 0, 0, 0, 0xffff, (a << 8) | b, (c << 8) | d]
  }
  const [head = '', tail] = address.split('::')
  const left = head === '' ? [] : head.split(':')
  const right = tail === undefined || tail === '' ? [] : tail.split(':')
  const fill = Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0')
  return [...left, ...fill, ...right].map((g) => Number.parseInt(g, 16) || 0)
}

function inRange(groups: readonly number[], range: Range): boolean {
  for (let i = 0; i < 8; i++) {
    const keep = Math.min(16, Math.max(0, range.bits - i * 16))
    if (keep === 0) return true
    const mask = (0xffff << (16 - keep)) & 0xffff
    if (((groups[i] ?? 0) & mask) !== ((range.groups[i] ?? 0) & mask)) return false
  }
  return true
}

/** `::ffff:1.2.3.4` (an IPv4 client on a dual-stack socket) as `1.2.3.4`. */
function unmapped(address: string): string {
  return address.length > 7 && address[0] === ':' && /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address)
    ? address.slice(7)
    : address
}

/**
 * The peer's address; when the peer is a trusted proxy, the first address from the right of
 * `X-Forwarded-For` that is not (a malformed entry stops the walk at the last proxy seen).
 */
function clientAddress(req: RateLimitRequest, isTrusted: (address: string) => boolean): string | undefined {
  const peer = req.remoteAddress === undefined ? undefined : unmapped(req.remoteAddress)
  if (peer === undefined || isIP(peer) === 0) return undefined
  if (!isTrusted(peer)) return peer
  const header = req.headers['x-forwarded-for']
  const hops = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((h) => unmapped(h.trim()))
  let client = peer
  for (let i = hops.length - 1; i >= 0; i--) {
    const hop = hops[i] as string
    if (isIP(hop) === 0) break
    client = hop
    if (!isTrusted(hop)) break
  }
  return client
}

/** The first `bits` of an IPv6 address, written in full (`2001:db8:0:0:0:0:0:0`). */
function ipv6Network(address: string, bits: number): string {
  return groupsOf(address)
    .map((g, i) => {
      const keep = Math.min(16, Math.max(0, bits - i * 16))
      return (keep === 0 ? 0 : g & (0xffff << (16 - keep)) & 0xffff).toString(16)
    })
    .join(':')
}

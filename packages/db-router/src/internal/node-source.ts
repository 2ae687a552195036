import { describeValue } from '@scalekit/internal'
import pg from 'pg'
import { DbRouterOptionsError } from '../errors'
import { isPool } from '../nodes/pools'

/** URL schemes pg connects with (`socket:` is pg-connection-string's Unix-socket form). */
const SCHEMES: ReadonlySet<string> = new Set(['postgres:', 'postgresql:', 'socket:'])

/** What a missing value most likely means, for the error message. */
const UNSET = ' — is the environment variable that should hold it set?'

function fail(message: string): never {
  throw new DbRouterOptionsError(message)
}

/**
 * Checks a connection string at construction: pg itself takes nearly any string (`'localhost'` is
 * read as a path relative to a default URL) and fails at the first query, far from the mistake.
 * Never echoes a URL, which may hold a password: only its scheme.
 */
export function checkConnectionString(where: string, value: string): void {
  if (value === '') fail(`${where} is an empty string${UNSET}`)
  // pg-connection-string's socket form: '/var/run/postgresql dbname'.
  if (value.startsWith('/')) return
  let scheme: string
  try {
    scheme = new URL(value).protocol
  } catch {
    fail(
      `${where} must be a connection URL like postgres://user:password@host:5432/db, got ${value.includes('@') ? 'a string that does not parse as a URL' : describeValue(value)}`,
    )
  }
  if (!SCHEMES.has(scheme))
    fail(`${where} must be a PostgreSQL URL (postgres:// or postgresql://), got a ${scheme}// URL`)
}

/** An object that can be a `PoolConfig` (pg reads its fields; the router checks `connectionString`). */
function isConfigObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Checks one node source — a URL, a `pg.Pool` or a `PoolConfig` — and refuses what would fail later
 * or crash: a `pg.Client` (one connection: the router would send concurrent statements through it,
 * and connect it again — `connect EALREADY`, an unhandled error that ends the process), anything
 * else that is not a plain config object, and a config whose `connectionString` is not a URL.
 */
export function checkNodeSource(where: string, value: unknown): void {
  if (typeof value === 'string') {
    checkConnectionString(where, value)
    return
  }
  if (isPool(value)) return
  const v = value as { query?: unknown; connect?: unknown } | null | undefined
  if (value instanceof pg.Client || (typeof v?.query === 'function' && typeof v.connect === 'function')) {
    fail(
      `${where} is a pg.Client (one connection, which the router would share between concurrent statements and connect again): pass a pg.Pool, a connection URL or a PoolConfig`,
    )
  }
  if (!isConfigObject(value))
    fail(
      `${where} must be a connection URL, a pg.Pool or a PoolConfig, got ${describeValue(value)}${value === undefined || value === null ? UNSET : ''}`,
    )
  const connectionString = value.connectionString
  if (connectionString !== undefined) {
    if (typeof connectionString !== 'string')
      fail(`${where}.connectionString must be a string, got ${describeValue(connectionString)}`)
    checkConnectionString(`${where}.connectionString`, connectionString)
  }
}

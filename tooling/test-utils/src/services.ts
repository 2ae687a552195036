import { ServicesUnavailableError } from './errors'
import type { MissingService } from './errors'
import { probeAmqp, probePostgres, probeRedis, probeRedisCluster } from './service-probes'
import type { HostPort, ServiceCheck } from './service-probes'

/**
 * Where the integration services live: each from its `SCALEKIT_*` env var, else the localhost
 * default `scripts/services.sh` starts, so tests run unchanged locally and in CI.
 */
export interface ServiceUrls {
  /** `SCALEKIT_PG_URL` @default `postgres://postgres@127.0.0.1:5432/test` */
  readonly pg: string
  /** `SCALEKIT_REDIS_URL` @default `redis://127.0.0.1:6379` */
  readonly redis: string
  /** `SCALEKIT_AMQP_URL` @default `amqp://guest:guest@127.0.0.1:5672` */
  readonly amqp: string
  /** `SCALEKIT_PG_PRIMARY_URL`: the primary the replicas stream from. @default port 5433 */
  readonly pgPrimary: string
  /** `SCALEKIT_PG_REPLICA_URL`: a streaming replica. @default port 5434 */
  readonly pgReplica: string
  /** `SCALEKIT_PG_REPLICA2_URL`: a second (delayed) replica. @default port 5435 */
  readonly pgReplica2: string
  /** `SCALEKIT_PG_SHARD_URLS`, comma-separated. @default ports 5441, 5442, 5443 */
  readonly pgShards: readonly string[]
  /** `SCALEKIT_REDIS_CLUSTER_NODES`, comma-separated `host:port`. @default 127.0.0.1:7001..7006 */
  readonly redisClusterNodes: readonly HostPort[]
}

/** A service `checkService` and `requireServices` know how to probe. */
export type ServiceName =
  'pg' | 'redis' | 'amqp' | 'pgPrimary' | 'pgReplica' | 'pgReplica2' | 'pgShards' | 'redisCluster'

/**
 * A service with its address overridden, in the format of its env var (a comma list for
 * `pgShards` and `redisCluster`), so a test can point a check somewhere else without touching env.
 */
export interface ServiceTarget {
  readonly name: ServiceName
  readonly url: string
}

const pgAt = (port: number): string => `postgres://postgres@127.0.0.1:${port}/test`

/** The service addresses, read from env once at import. */
export const serviceUrls: ServiceUrls = Object.freeze({
  pg: env('SCALEKIT_PG_URL') ?? pgAt(5432),
  redis: env('SCALEKIT_REDIS_URL') ?? 'redis://127.0.0.1:6379',
  amqp: env('SCALEKIT_AMQP_URL') ?? 'amqp://guest:guest@127.0.0.1:5672',
  pgPrimary: env('SCALEKIT_PG_PRIMARY_URL') ?? pgAt(5433),
  pgReplica: env('SCALEKIT_PG_REPLICA_URL') ?? pgAt(5434),
  pgReplica2: env('SCALEKIT_PG_REPLICA2_URL') ?? pgAt(5435),
  pgShards: Object.freeze(splitList(env('SCALEKIT_PG_SHARD_URLS') ?? [5441, 5442, 5443].map(pgAt).join(','))),
  redisClusterNodes: Object.freeze(
    parseNodes(
      env('SCALEKIT_REDIS_CLUSTER_NODES') ??
        [7001, 7002, 7003, 7004, 7005, 7006].map((p) => `127.0.0.1:${p}`).join(','),
    ),
  ),
})

/** How long a probe may take: long enough for a loaded CI box, short enough to fail a run fast. */
const CHECK_TIMEOUT_MS = 2000

const UP = 'sudo bash scripts/services.sh up'

/** The command that starts each service; the extra topology is opt-in because it costs minutes. */
const startCommands: Readonly<Record<ServiceName, string>> = {
  pg: UP,
  redis: UP,
  amqp: UP,
  pgPrimary: `${UP} --replica`,
  pgReplica: `${UP} --replica`,
  pgReplica2: `${UP} --replica`,
  pgShards: `${UP} --shards`,
  redisCluster: `${UP} --redis-cluster`,
}

/**
 * Speaks the service's own protocol (a TCP connect would pass for a half-started server), with a
 * ~2 s timeout. `url` overrides the address, in the format of the service's env var.
 */
export async function checkService(name: ServiceName, url: string = defaultUrl(name)): Promise<ServiceCheck> {
  switch (name) {
    case 'pg':
    case 'pgPrimary':
      return probePostgres(url, CHECK_TIMEOUT_MS, false)
    case 'pgReplica':
    case 'pgReplica2':
      return probePostgres(url, CHECK_TIMEOUT_MS, true)
    case 'pgShards':
      return checkAll(splitList(url), (shard) => probePostgres(shard, CHECK_TIMEOUT_MS, false))
    case 'redis':
      return probeRedis(url, CHECK_TIMEOUT_MS)
    case 'redisCluster': {
      const first = parseNodes(url)[0]
      return first === undefined
        ? { ok: false, reason: 'no cluster node listed' }
        : probeRedisCluster(first, CHECK_TIMEOUT_MS)
    }
    case 'amqp':
      return probeAmqp(url, CHECK_TIMEOUT_MS)
  }
}

/**
 * For a test file's `beforeAll`: checks every service in parallel and throws one
 * `ServicesUnavailableError` naming each missing service, its URL and the command that starts it,
 * rather than letting tests fail one by one on connect timeouts.
 */
export async function requireServices(...services: (ServiceName | ServiceTarget)[]): Promise<void> {
  const targets = services.map((s) => (typeof s === 'string' ? { name: s, url: defaultUrl(s) } : s))
  const results = await Promise.all(
    targets.map(async (t) => ({ ...t, check: await checkService(t.name, t.url) })),
  )
  const missing: MissingService[] = []
  for (const { name, url, check } of results) {
    if (!check.ok)
      missing.push({ name, url: maskPassword(url), reason: check.reason, command: startCommands[name] })
  }
  if (missing.length > 0) throw new ServicesUnavailableError(missing)
}

function defaultUrl(name: ServiceName): string {
  if (name === 'pgShards') return serviceUrls.pgShards.join(',')
  if (name === 'redisCluster')
    return serviceUrls.redisClusterNodes.map((n) => `${n.host}:${n.port}`).join(',')
  return serviceUrls[name]
}

async function checkAll(
  urls: readonly string[],
  probe: (url: string) => Promise<ServiceCheck>,
): Promise<ServiceCheck> {
  if (urls.length === 0) return { ok: false, reason: 'no URL listed' }
  const checks = await Promise.all(urls.map(async (url) => ({ url, check: await probe(url) })))
  const failed = checks.flatMap(({ url, check }) =>
    check.ok ? [] : [`${maskPassword(url)}: ${check.reason}`],
  )
  return failed.length === 0 ? { ok: true } : { ok: false, reason: failed.join('; ') }
}

function env(name: string): string | undefined {
  const value = process.env[name]?.trim()
  return value === undefined || value === '' ? undefined : value
}

function splitList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
}

function parseNodes(value: string): HostPort[] {
  return splitList(value).map((entry) => {
    const at = entry.lastIndexOf(':')
    const port = Number(entry.slice(at + 1))
    if (at <= 0 || !Number.isInteger(port) || port <= 0)
      throw new Error(`Redis Cluster node "${entry}" is not host:port`)
    return { host: entry.slice(0, at), port }
  })
}

/** CI may put real credentials in the URLs; error messages end up in logs. */
function maskPassword(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@/]*@/i, '$1***@')
}

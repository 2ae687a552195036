import { connect as connectAmqp } from 'amqplib'
import type { ChannelModel } from 'amqplib'
import { Redis } from 'ioredis'
import { Client } from 'pg'
import { describeError } from './describe-error'

/** What a probe found: the service answered its protocol, or why not. */
export type ServiceCheck = { readonly ok: true } | { readonly ok: false; readonly reason: string }

/** A `host:port` pair, as Redis Cluster nodes are listed. */
export interface HostPort {
  readonly host: string
  readonly port: number
}

/**
 * Runs `SELECT 1` (or `pg_is_in_recovery()` when a replica is expected): a TCP connect alone
 * would pass for a server that refuses our user or a primary where a replica should be.
 */
export async function probePostgres(
  url: string,
  timeoutMs: number,
  expectReplica: boolean,
): Promise<ServiceCheck> {
  const client = new Client({
    connectionString: url,
    connectionTimeoutMillis: timeoutMs,
    query_timeout: timeoutMs,
  })
  client.on('error', () => undefined)
  try {
    return await bounded(timeoutMs, describeError, async () => {
      await client.connect()
      const sql = expectReplica ? 'SELECT pg_is_in_recovery() AS answer' : 'SELECT 1 AS answer'
      const { rows } = await client.query<{ answer: unknown }>(sql)
      const answer = rows[0]?.answer
      if (expectReplica && answer !== true)
        return fail('answers but pg_is_in_recovery() is false: not a replica')
      if (!expectReplica && answer !== 1) return fail(`SELECT 1 returned ${String(answer)}`)
      return OK
    })
  } finally {
    client.end().catch(() => undefined)
  }
}

/** Sends `PING` once, without ioredis' reconnect loop, so a dead server fails in one connect timeout. */
export async function probeRedis(url: string, timeoutMs: number): Promise<ServiceCheck> {
  const { redis, reason } = oneShotRedis(url, timeoutMs)
  try {
    return await bounded(timeoutMs, reason, async () => {
      await redis.connect()
      await redis.ping()
      return OK
    })
  } finally {
    redis.disconnect()
  }
}

/** Asks the first node for `CLUSTER INFO`: a node that answers but whose slots are not all served is not ready. */
export async function probeRedisCluster(node: HostPort, timeoutMs: number): Promise<ServiceCheck> {
  const { redis, reason } = oneShotRedis(`redis://${node.host}:${node.port}`, timeoutMs)
  try {
    return await bounded(timeoutMs, reason, async () => {
      await redis.connect()
      const info = await redis.call('CLUSTER', 'INFO')
      const text = typeof info === 'string' ? info : Buffer.isBuffer(info) ? info.toString() : ''
      if (/cluster_state:ok/.test(text)) return OK
      return fail(`CLUSTER INFO on ${node.host}:${node.port} does not say cluster_state:ok`)
    })
  } finally {
    redis.disconnect()
  }
}

/** Opens and closes an AMQP connection: the handshake proves the broker and the credentials. */
export async function probeAmqp(url: string, timeoutMs: number): Promise<ServiceCheck> {
  let connection: ChannelModel | undefined
  try {
    return await bounded(timeoutMs, describeError, async () => {
      connection = await connectAmqp(url, { timeout: timeoutMs })
      connection.on('error', () => undefined)
      await connection.close()
      connection = undefined
      return OK
    })
  } finally {
    connection?.close().catch(() => undefined)
  }
}

const OK: ServiceCheck = { ok: true }

function fail(reason: string): ServiceCheck {
  return { ok: false, reason }
}

/**
 * An ioredis client that connects once. Its `connect()` rejects with a bare "Connection is
 * closed."; the cause (ECONNREFUSED, NOAUTH) comes as an 'error' event, which `reason()` returns.
 */
function oneShotRedis(url: string, timeoutMs: number): { redis: Redis; reason: (error: unknown) => string } {
  let lastError: unknown
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
  })
  redis.on('error', (error: unknown) => {
    lastError = error
  })
  return { redis, reason: (error) => describeError(lastError ?? error) }
}

/** Bounds a probe by `timeoutMs` even when a client's own timeouts miss a step, and turns a throw into a reason. */
async function bounded(
  timeoutMs: number,
  reason: (error: unknown) => string,
  probe: () => Promise<ServiceCheck>,
): Promise<ServiceCheck> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<ServiceCheck>((resolve) => {
    timer = setTimeout(() => {
      resolve(fail(`no answer within ${timeoutMs} ms`))
    }, timeoutMs + 250)
  })
  try {
    return await Promise.race([probe().catch((error: unknown) => fail(reason(error))), timeout])
  } finally {
    clearTimeout(timer)
  }
}

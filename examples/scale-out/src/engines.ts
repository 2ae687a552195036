import { execFile } from 'node:child_process'
import { setTimeout as sleep } from 'node:timers/promises'
import { promisify } from 'node:util'
import { connect as connectAmqp } from 'amqplib'

const run = promisify(execFile)

/** `redis-cli -h host -p port <args>`'s output. */
async function redisCli(address: string, ...args: string[]): Promise<string> {
  const [host = '127.0.0.1', port = '6379'] = address.split(':')
  const { stdout } = await run('redis-cli', ['-h', host, '-p', port, ...args], { timeout: 5000 })
  return stdout
}

/** The cluster's masters (`host:port`), as one reachable seed node sees them. */
async function masters(seeds: readonly string[]): Promise<{ seen: string; masters: string[] }> {
  for (const seed of seeds)
    try {
      const nodes = await redisCli(seed, 'cluster', 'nodes')
      const list = nodes
        .split('\n')
        .map((line) => line.split(' '))
        .filter((fields) => /(^|,)master(,|$)/.test(fields[2] ?? '') && !(fields[2] ?? '').includes('fail'))
        .map((fields) => (fields[1] ?? '').split('@')[0]!)
      return { seen: seed, masters: list }
    } catch {
      // that seed is down: ask the next
    }
  throw new Error(`no Redis Cluster node of ${seeds.join(', ')} answered`)
}

/**
 * SIGKILLs one master of the Redis Cluster and resolves once a replica has taken its slots
 * (`cluster_state:ok` again with the killed node marked failed): the failover time in ms.
 */
export async function killRedisMaster(
  seeds: readonly string[],
): Promise<{ node: string; failoverMs: number }> {
  const before = await masters(seeds)
  const node = before.masters[0]
  if (node === undefined) throw new Error('the Redis Cluster has no master')
  const info = await redisCli(node, 'info', 'server')
  const pid = Number(/process_id:(\d+)/.exec(info)?.[1])
  if (!Number.isInteger(pid)) throw new Error(`no process_id in INFO of ${node}`)
  const killed = Date.now()
  process.kill(pid, 'SIGKILL')
  const others = seeds.filter((seed) => seed !== node)
  for (;;) {
    await sleep(100)
    try {
      const now = await masters(others)
      const state = await redisCli(now.seen, 'cluster', 'info')
      if (
        now.masters.length === before.masters.length &&
        !now.masters.includes(node) &&
        /cluster_state:ok/.test(state)
      )
        return { node, failoverMs: Date.now() - killed }
    } catch {
      // mid-failover
    }
    if (Date.now() - killed > 60_000) throw new Error(`no replica took over from ${node} within 60 s`)
  }
}

/**
 * Deletes what the run's app name declared in RabbitMQ — the consumer group's queue and its
 * dead-letter queue, the app's exchange and its delay exchange (the names @scalekit/queue gives
 * them) — through the first node of `urls` that answers. Deleting what does not exist succeeds.
 */
export async function deleteQueueObjects(urls: readonly string[], app: string, group: string): Promise<void> {
  let lastError: unknown
  for (const url of urls)
    try {
      const connection = await connectAmqp(url)
      try {
        const channel = await connection.createChannel()
        await channel.deleteQueue(`${app}.${group}.order.placed`)
        await channel.deleteQueue(`${app}.${group}:dead-letter`)
        await channel.deleteExchange(app)
        await channel.deleteExchange(`${app}:delay`)
      } finally {
        await connection.close()
      }
      return
    } catch (error) {
      lastError = error
    }
  throw new Error(`no RabbitMQ node of ${urls.join(', ')} answered`, { cause: lastError })
}

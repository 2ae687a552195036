import { execFile, execFileSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const run = promisify(execFile)
const SERVICES = fileURLToPath(new URL('../../../scripts/services.sh', import.meta.url))
const RABBITMQCTL = '/usr/lib/rabbitmq/bin/rabbitmqctl'

/**
 * A private three-node RabbitMQ cluster, for fault tests that stop a node: started by
 * `scripts/services.sh up --rabbit-cluster` under a state directory, node names and ports of its
 * own (the shared cluster on 5681-5683 and the broker on 5672 are never touched). Needs what
 * services.sh needs: root and Debian's rabbitmq-server.
 */
export interface RabbitCluster {
  /** AMQP ports, node 1 first. */
  readonly ports: readonly number[]
  /** `amqp://guest:guest@127.0.0.1:<port>`, node 1 first. */
  readonly urls: readonly string[]
  /** Erlang node names (`<prefix>-1@localhost` …), node 1 first. */
  readonly nodes: readonly string[]
  /** `services.sh rabbit-node stop <port>`: the node's VM exits (its clients' connections drop). */
  stopNode(port: number): Promise<void>
  /** `services.sh rabbit-node start <port>`: resolves once it answers AMQP and has rejoined. */
  startNode(port: number): Promise<void>
  /** `rabbitmqctl -q -n <node of port> …args`, with the cluster's cookie; its stdout. */
  ctl(port: number, ...args: string[]): Promise<string>
  /** Stops every node and removes the state directory. */
  stop(): Promise<void>
}

/** Starts a private cluster: three RabbitMQ boots, the slowest fixture in the suite. */
export async function startRabbitCluster(label = 'skqc'): Promise<RabbitCluster> {
  const dir = await mkdtemp(join(tmpdir(), 'scalekit-rabbit-cluster-'))
  const ports = await clusterPorts(3)
  const prefix = `${label}${process.pid}`.replace(/[^A-Za-z0-9_-]/g, '').slice(0, 40)
  const env = {
    ...process.env,
    SCALEKIT_SERVICES_DIR: dir,
    SCALEKIT_RABBIT_CLUSTER_PORTS: ports.join(','),
    SCALEKIT_RABBIT_CLUSTER_PREFIX: prefix,
  }
  const services = async (...args: string[]): Promise<void> => {
    await run('bash', [SERVICES, ...args], { env, timeout: 300_000 })
  }
  const nodes = ports.map((_, i) => `${prefix}-${i + 1}@localhost`)
  const cleanup = (): void => {
    try {
      execFileSync('bash', [SERVICES, 'down', '--rabbit-cluster'], { env, stdio: 'ignore', timeout: 60_000 })
    } catch {
      // Already stopped.
    }
  }
  // If the test process dies first, the nodes must not outlive it.
  process.once('exit', cleanup)
  try {
    await services('up', '--rabbit-cluster')
  } catch (error) {
    process.off('exit', cleanup)
    cleanup()
    await rm(dir, { recursive: true, force: true })
    throw error
  }
  const nodeOf = (port: number): string => {
    const i = ports.indexOf(port)
    const node = nodes[i]
    if (node === undefined) throw new Error(`${port} is not a port of this cluster (${ports.join(', ')})`)
    return node
  }
  return {
    ports,
    urls: ports.map((p) => `amqp://guest:guest@127.0.0.1:${p}`),
    nodes,
    stopNode: async (port) => {
      nodeOf(port)
      await services('rabbit-node', 'stop', String(port))
    },
    startNode: async (port) => {
      nodeOf(port)
      await services('rabbit-node', 'start', String(port))
    },
    ctl: async (port, ...args) => {
      const ctlEnv = { ...env, HOME: join(dir, 'rabbit-cluster', 'home') }
      return (await run(RABBITMQCTL, ['-q', '-n', nodeOf(port), ...args], { env: ctlEnv, timeout: 120_000 }))
        .stdout
    },
    stop: async () => {
      process.off('exit', cleanup)
      await services('down', '--rabbit-cluster').catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/**
 * `count` consecutive free ports whose Erlang distribution ports (port + 20000) are free too, in
 * 30000-45000 (services.sh needs port + 20000 to be a TCP port).
 */
async function clusterPorts(count: number): Promise<number[]> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const base = 30_000 + Math.floor(Math.random() * (15_000 - count))
    const ports = Array.from({ length: count }, (_, i) => base + i)
    const free = await Promise.all(ports.flatMap((p) => [portFree(p), portFree(p + 20_000)]))
    if (free.every(Boolean)) return ports
  }
  throw new Error(`no ${count} consecutive free ports (and their + 20000) found in 30000-45000`)
}

async function portFree(port: number): Promise<boolean> {
  const server = createServer()
  return new Promise((resolve) => {
    server.once('error', () => {
      resolve(false)
    })
    server.listen(port, '127.0.0.1', () => {
      server.close(() => {
        resolve(true)
      })
    })
  })
}

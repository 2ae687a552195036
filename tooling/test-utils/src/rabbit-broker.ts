import { execFile, execFileSync } from 'node:child_process'
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from './free-port'
import { sleep } from './wait-for'

const run = promisify(execFile)

/**
 * A private RabbitMQ node beside the shared one, for fault tests that stop, restart and cut it.
 * It shares the machine's Erlang cookie and epmd (rabbitmqctl reaches it by node name) but has its
 * own node name, ports, data and log directories (a temp dir) and config file — the system
 * config pins the listener to 5672, so the node gets a config of its own.
 */
export interface RabbitBroker {
  readonly node: string
  readonly port: number
  /** `amqp://guest:guest@127.0.0.1:<port>` */
  readonly url: string
  /** `rabbitmqctl stop_app`: the broker goes away (connections closed, port refused), the node stays. */
  stopApp(): Promise<void>
  /** `rabbitmqctl start_app`, then waits until it accepts connections. */
  startApp(): Promise<void>
  /** Stops the whole node (the Erlang VM exits) and starts it again from its data directory. */
  restartNode(): Promise<void>
  /** `rabbitmqctl set_vm_memory_high_watermark`: a tiny value raises the memory alarm (publishers blocked). */
  setMemoryWatermark(fraction: number): Promise<void>
  /** `rabbitmqctl close_all_connections`: every client connection is force-closed. */
  closeAllConnections(why?: string): Promise<void>
  /** `rabbitmqctl list_queues name messages consumers` of this node. */
  listQueues(): Promise<{ name: string; messages: number; consumers: number }[]>
  /** Stops the node and removes its directories. */
  stop(): Promise<void>
}

/** Starts a private broker node on free ports; resolves once it has booted (about 5 s). */
export async function startRabbitBroker(label = 'skq'): Promise<RabbitBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'scalekit-rabbit-'))
  const port = await freePort()
  const distPort = await freePort()
  const node = `${label}${process.pid}x${port}@localhost`
  await mkdir(join(dir, 'mnesia'))
  await mkdir(join(dir, 'log'))
  await writeFile(
    join(dir, 'rabbitmq.conf'),
    `listeners.tcp.local = 127.0.0.1:${port}\nloopback_users = none\n`,
  )
  // The server runs as the rabbitmq user (the Debian wrapper switches to it).
  const uid = Number(execFileSync('id', ['-u', 'rabbitmq'], { encoding: 'utf8' }).trim())
  const gid = Number(execFileSync('id', ['-g', 'rabbitmq'], { encoding: 'utf8' }).trim())
  for (const d of [dir, join(dir, 'mnesia'), join(dir, 'log'), join(dir, 'rabbitmq.conf')])
    await chown(d, uid, gid)
  await chmod(dir, 0o755)
  const env = {
    ...process.env,
    RABBITMQ_NODENAME: node,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(port),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
  }
  await run('rabbitmq-server', ['-detached'], { env })
  const ctl = async (...args: string[]): Promise<string> =>
    (await run('rabbitmqctl', ['-n', node, ...args], { env, timeout: 60_000 })).stdout
  const cleanup = (): void => {
    try {
      execFileSync('rabbitmqctl', ['-n', node, 'stop'], { env, stdio: 'ignore', timeout: 20_000 })
    } catch {
      // Already stopped.
    }
  }
  // If the test process dies first, the node must not outlive it.
  process.once('exit', cleanup)
  await awaitStartup(ctl, 60_000)
  return {
    node,
    port,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    stopApp: async () => {
      await ctl('stop_app')
    },
    startApp: async () => {
      await ctl('start_app')
      await awaitStartup(ctl, 60_000)
    },
    restartNode: async () => {
      await ctl('stop')
      await run('rabbitmq-server', ['-detached'], { env })
      await awaitStartup(ctl, 60_000)
    },
    setMemoryWatermark: async (fraction) => {
      await ctl('set_vm_memory_high_watermark', String(fraction))
    },
    closeAllConnections: async (why = 'fault test') => {
      await ctl('close_all_connections', why)
    },
    listQueues: async () => {
      const out = await ctl('list_queues', '--quiet', '--no-table-headers', 'name', 'messages', 'consumers')
      return out
        .trim()
        .split('\n')
        .filter((l) => l.trim() !== '')
        .map((l) => {
          const [name = '', messages = '0', consumers = '0'] = l.trim().split(/\s+/)
          return { name, messages: Number(messages), consumers: Number(consumers) }
        })
    },
    stop: async () => {
      process.off('exit', cleanup)
      await ctl('stop').catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

/** `await_startup` fails while the node has not registered with epmd yet: retry until the deadline. */
async function awaitStartup(ctl: (...args: string[]) => Promise<string>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    try {
      await ctl('await_startup', '--timeout', '30')
      return
    } catch (error) {
      if (Date.now() > deadline) throw error
      await sleep(300)
    }
  }
}

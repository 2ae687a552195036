/**
 * A private RabbitMQ node beside the shared one, for the fault scenario (the same recipe as
 * packages/queue/test/integration/support/private-broker.ts): own node name, ports, data and log
 * directories, and a config file of its own (the system one pins 5672); run as the rabbitmq user.
 */
import { execFile, execFileSync } from 'node:child_process'
import { chmod, chown, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { freePort } from '@scalekit/test-utils'
import { sleep } from './context'

const run = promisify(execFile)

export interface PrivateBroker {
  readonly node: string
  readonly url: string
  closeAllConnections(why: string): Promise<void>
  stop(): Promise<void>
}

export async function startPrivateBroker(): Promise<PrivateBroker> {
  const dir = await mkdtemp(join(tmpdir(), 'skqbench-rabbit-'))
  const port = await freePort()
  const distPort = await freePort()
  const node = `skqbench${process.pid}x${port}@localhost`
  await mkdir(join(dir, 'mnesia'))
  await mkdir(join(dir, 'log'))
  await writeFile(join(dir, 'rabbitmq.conf'), `listeners.tcp.local = 127.0.0.1:${port}\nloopback_users = none\n`)
  const uid = Number(execFileSync('id', ['-u', 'rabbitmq'], { encoding: 'utf8' }).trim())
  const gid = Number(execFileSync('id', ['-g', 'rabbitmq'], { encoding: 'utf8' }).trim())
  for (const d of [dir, join(dir, 'mnesia'), join(dir, 'log'), join(dir, 'rabbitmq.conf')]) await chown(d, uid, gid)
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
  const ctl = async (...args: string[]): Promise<string> => (await run('rabbitmqctl', ['-n', node, ...args], { env, timeout: 60_000 })).stdout
  const cleanup = (): void => {
    try {
      execFileSync('rabbitmqctl', ['-n', node, 'stop'], { env, stdio: 'ignore', timeout: 20_000 })
    } catch {
      // Already stopped.
    }
  }
  process.once('exit', cleanup)
  const deadline = Date.now() + 60_000
  for (;;) {
    try {
      await ctl('await_startup', '--timeout', '30')
      break
    } catch (error) {
      if (Date.now() > deadline) throw error
      await sleep(300)
    }
  }
  return {
    node,
    url: `amqp://guest:guest@127.0.0.1:${port}`,
    closeAllConnections: async (why) => {
      await ctl('close_all_connections', why)
    },
    stop: async () => {
      process.off('exit', cleanup)
      await ctl('stop').catch(() => undefined)
      await rm(dir, { recursive: true, force: true })
    },
  }
}

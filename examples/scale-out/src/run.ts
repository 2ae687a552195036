/**
 * The scale-out proof (issue 19): the Express example as a fleet — 3 web instances and 2 workers —
 * behind HAProxy, on shared Redis, RabbitMQ and PostgreSQL with two streaming replicas, checked
 * under load and under faults. `bash scripts/scale-out.sh` runs it (`--reduced` for CI's shorter form).
 * Prints one line per check (its figure and PASS/FAIL/SKIP) and exits non-zero when one fails.
 * Everything it starts is stopped by pid, also on failure and on Ctrl-C.
 */
import { execFile } from 'node:child_process'
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { mkdtemp } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import pg from 'pg'
import { describeModes, readConfig } from '@scalekit/example-app-core'
import { freePort, startFaultProxy } from '@scalekit/test-utils'
import type { FaultProxy } from '@scalekit/test-utils'
import {
  checkOrders,
  checkRateLimit,
  checkSessions,
  checkStale,
  checkStampede,
  checkThroughput,
} from './checks.js'
import type { CheckContext, CheckResult } from './checks.js'
import { checkExactlyOnce, underLoad } from './faults.js'
import { deleteQueueObjects, killRedisMaster } from './engines.js'
import { Fleet } from './fleet.js'
import type { Member } from './fleet.js'
import { startHaproxy } from './haproxy.js'
import type { Haproxy } from './haproxy.js'
import { call, login } from './client.js'

const run = promisify(execFile)
const root = fileURLToPath(new URL('../../../', import.meta.url))

/** What `runScaleOut` does. */
export interface ScaleOutOptions {
  /** CI's form: fewer rounds and shorter loads, and only the faults that touch nothing shared. */
  readonly reduced: boolean
  /** Progress lines (stderr by default). */
  readonly log?: (line: string) => void
}

/** The report: one result per check, and where the run's logs are. */
export interface ScaleOutReport {
  readonly results: readonly CheckResult[]
  readonly logDir: string
  readonly topology: string
}

/** `scripts/services.sh env` as a map (`export NAME='value'` lines). */
async function serviceEnv(): Promise<Record<string, string>> {
  const { stdout } = await run('bash', [join(root, 'scripts/services.sh'), 'env'], { cwd: root })
  const env: Record<string, string> = {}
  for (const match of stdout.matchAll(/^export (\w+)='([^']*)'$/gm)) env[match[1]!] = match[2]!
  return env
}

function signingKeys(): string {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return JSON.stringify({
    keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'scale-out-1', alg: 'ES256', use: 'sig' }],
  })
}

/**
 * Whether the example app takes a Redis Cluster (`REDIS_CLUSTER_NODES`) and a RabbitMQ cluster
 * (`AMQP_URL` as a list of nodes): asked of the app's own config, through its public entry.
 */
function appTakesClusters(): { redis: boolean; rabbit: boolean; shards: boolean } {
  const modes: Record<string, string> = describeModes(
    readConfig({
      REDIS_CLUSTER_NODES: '127.0.0.1:7001',
      AMQP_URL: 'amqp://127.0.0.1:5681,amqp://127.0.0.1:5682',
      DATABASE_SHARD_URLS: 'postgres://127.0.0.1:5441/test,postgres://127.0.0.1:5442/test',
    }),
  )
  return {
    redis: /cluster/i.test(modes['cache'] ?? ''),
    rabbit: /cluster/i.test(modes['queue'] ?? ''),
    shards: /shard/i.test(modes['orders'] ?? ''),
  }
}

const LOGIN_LIMIT = 20
const ORDER_STOCK = 1_000_000

/** Starts the fleet and the balancer, runs every check, stops everything it started. */
export async function runScaleOut(options: ScaleOutOptions): Promise<ScaleOutReport> {
  const began = Date.now()
  const print =
    options.log ??
    ((line: string) => {
      console.error(line)
    })
  const log = (line: string): void => {
    print(`[+${((Date.now() - began) / 1000).toFixed(0)} s] ${line}`)
  }
  const dir = await mkdtemp(join(tmpdir(), 'scalekit-scale-out-'))
  const cleanups: (() => Promise<unknown>)[] = []
  let fleet: Fleet | undefined
  let haproxy: Haproxy | undefined
  const onExit = (): void => {
    fleet?.killAllNow()
    if (haproxy !== undefined) process.kill(haproxy.pid, 'SIGKILL')
  }
  process.once('exit', onExit)
  const results: CheckResult[] = []
  try {
    const takes = appTakesClusters()
    const servicesSh = (...args: string[]) =>
      run('bash', [join(root, 'scripts/services.sh'), ...args], { cwd: root, timeout: 600_000 })
    log(`scale-out: services (scripts/services.sh up --all); logs in ${dir}`)
    await servicesSh('up', '--all')
    let services = await serviceEnv()
    // the 3-node RabbitMQ cluster is not part of --all (a new one takes a minute to form)
    const rabbitCluster = takes.rabbit && services['SCALEKIT_AMQP_CLUSTER_URLS'] !== undefined
    if (rabbitCluster) {
      log('scale-out: RabbitMQ cluster (scripts/services.sh up --rabbit-cluster)')
      await servicesSh('up', '--rabbit-cluster')
      services = await serviceEnv()
    }
    const redisCluster = takes.redis
    const primary = services['SCALEKIT_PG_PRIMARY_URL']!
    // The fleet reaches each replica through a TCP proxy of its own: "a replica stopped" is then a fault
    // only the fleet sees (other test files keep using the shared replicas while this runs in CI).
    const replicaProxies: FaultProxy[] = []
    for (const url of [services['SCALEKIT_PG_REPLICA_URL']!, services['SCALEKIT_PG_REPLICA2_URL']!]) {
      const proxy = await startFaultProxy({ target: url })
      replicaProxies.push(proxy)
      cleanups.push(() => proxy.close())
    }
    const replicaUrls = replicaProxies.map((proxy, i) =>
      proxy.url(i === 0 ? services['SCALEKIT_PG_REPLICA_URL']! : services['SCALEKIT_PG_REPLICA2_URL']!),
    )
    const runId = `${Date.now().toString(36)}${randomBytes(2).toString('hex')}`
    const schema = `scale_out_${runId}`
    const appName = `sk-scale-out-${runId}`
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '',
      HOME: process.env['HOME'] ?? '/root',
      NODE_ENV: 'production',
      DATABASE_URL: primary,
      DATABASE_REPLICA_URLS: replicaUrls.join(','),
      ...(redisCluster
        ? { REDIS_CLUSTER_NODES: services['SCALEKIT_REDIS_CLUSTER_NODES']! }
        : { REDIS_URL: services['SCALEKIT_REDIS_URL']! }),
      ...(takes.shards ? { DATABASE_SHARD_URLS: services['SCALEKIT_PG_SHARD_URLS']! } : {}),
      AMQP_URL: rabbitCluster ? services['SCALEKIT_AMQP_CLUSTER_URLS']! : services['SCALEKIT_AMQP_URL']!,
      DB_SCHEMA: schema,
      APP_NAME: appName,
      RATE_LIMIT_NAMESPACE: appName,
      JWT_PRIVATE_JWKS: signingKeys(),
      TOKEN_SECRET: randomBytes(32).toString('hex'),
      COOKIE_SECRET: randomBytes(32).toString('hex'),
      // every request through the balancer comes from its address: the per-address API limit is lifted,
      // the login limit (checked fleet-wide below) is kept
      RATE_LIMIT_PER_IP: '10000000',
      LOGIN_RATE_LIMIT: String(LOGIN_LIMIT),
      // SIGTERM: /readyz answers 503 for 3 s before the server stops taking connections; HAProxy marks it
      // down after 2 failed checks 500 ms apart
      READINESS_DELAY_MS: '3000',
      // the load tests delay the event loop of a 2-core machine: the shedder is not what is measured
      SHED_EVENT_LOOP_DELAY_MS: '10000',
      LOG_LEVEL: 'warn',
    }
    const topology = `3 web (Express) + 2 workers; HAProxy leastconn, /readyz checks; PostgreSQL primary + 2 streaming replicas${takes.shards ? ', orders sharded by customer over 3 shards' : ''}; ${redisCluster ? 'Redis Cluster, 3 masters + 3 replicas' : 'Redis standalone'} (cache, sessions, limits, locks); ${rabbitCluster ? 'RabbitMQ 3-node cluster (quorum queues)' : 'RabbitMQ single node'}`
    log(`scale-out: ${topology}`)

    // the run's queues and exchanges go once the fleet has stopped (the cleanups run after it)
    cleanups.push(() => deleteQueueObjects(env['AMQP_URL']!.split(','), appName, 'fulfilment'))
    fleet = new Fleet(env, dir)
    const ports = [await freePort(), await freePort(), await freePort()]
    // the first instance creates the schema; the others and the workers start once it exists
    const web: Member[] = [await fleet.startWeb('web1', ports[0]!)]
    const started = await Promise.all([
      fleet.startWeb('web2', ports[1]!),
      fleet.startWeb('web3', ports[2]!),
      fleet.startWorker('worker1'),
      fleet.startWorker('worker2'),
    ])
    web.push(started[0], started[1])
    const workers = [started[2], started[3]]
    log(
      `scale-out: fleet up (web ${ports.join(', ')}; pids ${[...web, ...workers].map((m) => m.pid).join(', ')})`,
    )

    haproxy = await startHaproxy({
      dir,
      port: await freePort(),
      servers: web.map((member) => ({ name: member.name, port: member.port })),
    })
    await haproxy.waitFor(
      'UP',
      web.map((member) => member.name),
    )
    log(
      `scale-out: HAProxy ${haproxy.url} (pid ${haproxy.pid}), every backend UP; config ${haproxy.configFile}`,
    )

    const db = new pg.Pool({ connectionString: primary, max: 2 })
    const shardDbs = takes.shards
      ? services['SCALEKIT_PG_SHARD_URLS']!.split(',').map(
          (url) => new pg.Pool({ connectionString: url, max: 2 }),
        )
      : []
    cleanups.push(async () => {
      for (const pool of [db, ...shardDbs]) {
        await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => undefined)
        await pool.end()
      }
    })
    const admin = await login(haproxy.url, 'root@example.com', 'root-password')
    const alice = await login(haproxy.url, 'alice@example.com', 'alice-password')
    for (const productId of [5, 6])
      await call(`${haproxy.url}/products/${productId}`, {
        method: 'PATCH',
        token: admin.accessToken,
        body: { stock: ORDER_STOCK },
      })
    let ctx: CheckContext = {
      lb: haproxy.url,
      instances: web.map((member) => `http://127.0.0.1:${member.port}`),
      adminToken: admin.accessToken,
      aliceToken: alice.accessToken,
      db,
      orderDbs: shardDbs.length > 0 ? shardDbs : [db],
      schema,
      workers,
      reduced: options.reduced,
    }
    const lb = haproxy
    const record = (result: CheckResult): void => {
      results.push(result)
      log(`  ${result.status} ${result.id}. ${result.name}: ${result.figure}`)
    }

    record(
      await checkSessions(
        ctx,
        async () => (await login(lb.url, 'alice@example.com', 'alice-password')).accessToken,
      ),
    )
    // log out everywhere revoked every token of alice's: she logs in again
    ctx = { ...ctx, aliceToken: (await login(lb.url, 'alice@example.com', 'alice-password')).accessToken }
    record(await checkStale(ctx, 2))
    record(await checkStampede(ctx, 3))
    record(await checkRateLimit(ctx, LOGIN_LIMIT))
    record(await checkOrders(ctx, 5))

    // 6. faults under load
    const current = [...web]
    const restart = async (index: number): Promise<void> => {
      const member = current[index]!
      current[index] = await fleet!.startWeb(member.name, member.port)
      await lb.waitFor('UP', [member.name])
    }
    record(
      await underLoad(
        ctx,
        { id: '6a', name: 'one web instance SIGKILLed under load', productId: 6, zero5xx: false },
        async () => {
          const victim = current[1]!
          await fleet!.signal(victim, 'SIGKILL')
          const killed = Date.now()
          await lb.waitFor('DOWN', [victim.name])
          const detected = Date.now() - killed
          await restart(1)
          return `${victim.name} SIGKILLed, HAProxy marked it down after ${detected} ms, restarted and UP again`
        },
      ),
    )
    record(
      await underLoad(
        ctx,
        {
          id: '6b',
          name: `rolling restart of ${options.reduced ? 'one instance (reduced form; the full run rolls all three)' : 'all three'} (SIGTERM, readiness first): zero 5xx`,
          productId: 6,
          zero5xx: true,
        },
        async () => {
          const codes: (number | null)[] = []
          const from = lb.logLines().length
          // the reduced form rolls one instance: each start of the app is the slowest step on a loaded CI box
          const rolled = options.reduced ? 1 : current.length
          for (let i = 0; i < rolled; i++) {
            codes.push(await fleet!.signal(current[i]!, 'SIGTERM'))
            await restart(i)
          }
          const downs = lb
            .logLines()
            .slice(from)
            .filter((line) => line.includes(' is DOWN'))
            .map(
              (line) =>
                /Server app\/(\w+) is DOWN, reason: ([^,]*)/.exec(line)?.slice(1, 3).join(': ') ?? line,
            )
          return `${rolled} of ${current.length} instances restarted one by one, exit codes ${codes.join(', ')}; HAProxy saw ${downs.length} server(s) go down (${downs.join('; ')})`
        },
      ),
    )
    const sharedOnly =
      'left to the full run (bash scripts/scale-out.sh): it stops a node of a cluster that other test files share'
    if (!rabbitCluster)
      record({
        id: '6c',
        name: 'one RabbitMQ node stopped under load',
        status: 'SKIP',
        figure: `not run: the fleet runs on one RabbitMQ node (${takes.rabbit ? 'scripts/services.sh has no --rabbit-cluster' : 'the app does not take a list of nodes in AMQP_URL'})`,
      })
    else if (options.reduced)
      record({ id: '6c', name: 'one RabbitMQ node stopped under load', status: 'SKIP', figure: sharedOnly })
    else
      record(
        await underLoad(
          ctx,
          {
            id: '6c',
            name: 'one RabbitMQ node stopped under load (publishing and consuming go on)',
            productId: 6,
            zero5xx: true,
          },
          async () => {
            // the node every client connected to first: its connections must move to the others
            const port =
              /:(\d+)/.exec(
                services['SCALEKIT_AMQP_CLUSTER_URLS']!.split(',')[0]!.split('@')[1] ?? '',
              )?.[1] ?? '5681'
            const stopped = Date.now()
            await servicesSh('rabbit-node', 'stop', port)
            const stopMs = Date.now() - stopped
            await new Promise((resolve) => setTimeout(resolve, 5000))
            await servicesSh('rabbit-node', 'start', port)
            return `node on ${port} (the clients' first) stopped under load (services.sh rabbit-node stop took ${stopMs} ms), down 5 s more, then started again and rejoined`
          },
        ),
      )
    if (!redisCluster)
      record({
        id: '6d',
        name: 'a Redis Cluster master killed under load',
        status: 'SKIP',
        figure: 'not run: the app does not read REDIS_CLUSTER_NODES (standalone REDIS_URL)',
      })
    else if (options.reduced)
      record({
        id: '6d',
        name: 'a Redis Cluster master killed under load',
        status: 'SKIP',
        figure: sharedOnly,
      })
    else
      record(
        await underLoad(
          ctx,
          {
            id: '6d',
            name: 'a Redis Cluster master killed under load (replica promoted; cache and sessions answer)',
            productId: 6,
            zero5xx: true,
          },
          async () => {
            const seeds = services['SCALEKIT_REDIS_CLUSTER_NODES']!.split(',')
            const { node, failoverMs } = await killRedisMaster(seeds)
            await new Promise((resolve) => setTimeout(resolve, 2000))
            // the killed node restarts from its nodes.conf and rejoins as a replica of its successor
            await servicesSh('up', '--redis-cluster')
            return `master ${node} SIGKILLed, a replica took its slots after ${failoverMs} ms (cluster-node-timeout 5 s), the node restarted as a replica`
          },
        ),
      )
    record(
      await underLoad(
        ctx,
        {
          id: '6e',
          name: 'a PostgreSQL replica stopped under load (reads continue)',
          productId: 6,
          zero5xx: true,
        },
        async () => {
          const proxy = replicaProxies[1]!
          const open = proxy.connections
          await proxy.refuse(true)
          proxy.reset()
          await new Promise((resolve) => setTimeout(resolve, options.reduced ? 3000 : 8000))
          await proxy.heal()
          return `replica 2 unreachable for ${options.reduced ? 3 : 8} s (its ${open} open connections reset, new ones refused), then back`
        },
      ),
    )
    record(await checkExactlyOnce(ctx, 6, ORDER_STOCK))
    record(await checkThroughput(ctx))

    const codes = await fleet.stopAll()
    const bad = Object.entries(codes).filter(([, code]) => code !== 0)
    record({
      id: 'end',
      name: 'graceful stop of the fleet (SIGTERM)',
      status: bad.length === 0 ? 'PASS' : 'FAIL',
      figure: `exit codes ${Object.entries(codes)
        .map(([name, code]) => `${name} ${code}`)
        .join(', ')}`,
    })
    return { results, logDir: dir, topology }
  } finally {
    await fleet?.stopAll().catch(() => undefined)
    await haproxy?.stop().catch(() => undefined)
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined)
    process.removeListener('exit', onExit)
  }
}

/** One line per check, then a summary line. */
export function formatReport(report: ScaleOutReport): string {
  const lines = report.results.map(
    (result) => `${result.status.padEnd(4)} ${result.id.padEnd(4)} ${result.name}: ${result.figure}`,
  )
  const failed = report.results.filter((result) => result.status === 'FAIL').length
  const skipped = report.results.filter((result) => result.status === 'SKIP').length
  lines.push(
    `${failed === 0 ? 'OK' : 'FAILED'}: ${report.results.length - failed - skipped} passed, ${failed} failed, ${skipped} skipped (logs: ${report.logDir})`,
  )
  return `scale-out report — ${report.topology}\n${lines.join('\n')}`
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const reduced = process.argv.includes('--reduced')
  // Ctrl-C or SIGTERM: exit at once; the exit handler SIGKILLs every process of the fleet and HAProxy by pid
  const abort = (signal: NodeJS.Signals): void => {
    console.error(`scale-out: ${signal}, stopping what was started`)
    process.exit(130)
  }
  process.on('SIGINT', abort)
  process.on('SIGTERM', abort)
  try {
    const report = await runScaleOut({ reduced })
    console.log(formatReport(report))
    console.log(`SCALE_OUT_RESULT ${JSON.stringify(report.results)}`)
    if (report.results.some((result) => result.status === 'FAIL')) process.exitCode = 1
  } catch (error) {
    console.error('scale-out: failed:', error)
    process.exitCode = 1
  }
}

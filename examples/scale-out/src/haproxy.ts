import { spawn } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import { writeFile } from 'node:fs/promises'
import { connect } from 'node:net'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

/** A backend server of the web pool. */
export interface Backend {
  readonly name: string
  readonly port: number
}

/** HAProxy as started by `startHaproxy`: its pid, its front port, the state of each server. */
export interface Haproxy {
  readonly pid: number
  readonly port: number
  readonly url: string
  readonly configFile: string
  /** Each web server's state as HAProxy's health checks see it (`UP`, `DOWN`, `UP 1/2`, `MAINT`…). */
  states(): Promise<Record<string, string>>
  /** Resolves once every named server is `UP` (throws after `timeoutMs`). */
  waitFor(state: 'UP' | 'DOWN', names: readonly string[], timeoutMs?: number): Promise<void>
  /** What HAProxy logged so far (server state changes: `Server app/web2 is DOWN, reason: …`). */
  logLines(): readonly string[]
  /** SIGTERM (HAProxy's hard stop), resolves once it has exited. */
  stop(): Promise<void>
}

/**
 * The load balancer's configuration: least connections, a readiness check every 500 ms (down
 * after 2 failures, up after 1 success; a check may take 3 s), bounded timeouts, loopback only. A request that cannot
 * connect is sent to another server (`option redispatch`, `retries`); a GET that got no answer
 * (its server died under it) is retried there too; a POST is never retried once sent, so an order
 * is never placed twice by the balancer. Server connections are not kept alive
 * (`http-server-close`): an instance that shuts down closes no connection a request is about to use.
 */
export function haproxyConfig(options: {
  port: number
  socket: string
  servers: readonly Backend[]
}): string {
  return `# written by examples/scale-out (the scale-out proof)
global
  maxconn 4096
  log stdout format raw local0 notice
  stats socket ${options.socket} mode 600 level admin

defaults
  mode http
  log global
  option http-server-close
  timeout connect 2s
  timeout client 30s
  timeout server 30s
  timeout http-request 10s
  timeout http-keep-alive 10s
  timeout queue 10s
  # a check's answer may take this long: bounded by inter alone, a loaded machine answering /readyz
  # a little late had every server marked down at once, and clients got HAProxy's 503
  timeout check 3s
  retries 3
  option redispatch 1
  retry-on conn-failure empty-response response-timeout

frontend web
  bind 127.0.0.1:${options.port}
  default_backend app

backend app
  balance leastconn
  http-request disable-l7-retry if METH_POST
  option httpchk GET /readyz
  http-check expect status 200
  default-server inter 500ms fastinter 500ms downinter 500ms fall 2 rise 1
${options.servers.map((server) => `  server ${server.name} 127.0.0.1:${server.port} check`).join('\n')}
`
}

async function ask(socket: string, command: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const conn = connect(socket)
    let out = ''
    conn.setEncoding('utf8')
    conn.on('data', (chunk: string) => (out += chunk))
    conn.on('end', () => {
      resolve(out)
    })
    conn.on('error', reject)
    conn.end(`${command}\n`)
  })
}

/** Writes the config into `dir`, starts `haproxy -db` (foreground, a child of ours), waits for its socket. */
export async function startHaproxy(options: {
  dir: string
  port: number
  servers: readonly Backend[]
}): Promise<Haproxy> {
  const socket = join(options.dir, 'haproxy.sock')
  const configFile = join(options.dir, 'haproxy.cfg')
  await writeFile(configFile, haproxyConfig({ port: options.port, socket, servers: options.servers }))
  // its log (server state changes, at notice) and its warnings go to haproxy.log beside the config
  const logFile = createWriteStream(join(options.dir, 'haproxy.log'))
  const child = spawn('haproxy', ['-db', '-f', configFile], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  const lines: string[] = []
  child.stdout.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => {
    logFile.write(chunk)
    lines.push(...chunk.split('\n').filter((line) => line !== ''))
  })
  child.stderr.setEncoding('utf8')
  child.stderr.on('data', (chunk: string) => {
    logFile.write(chunk)
    stderr += chunk
  })
  const exited = new Promise<void>((resolve) =>
    child.once('exit', () => {
      resolve()
    }),
  )
  if (child.pid === undefined) throw new Error('could not spawn haproxy (is it installed?)')

  const states = async (): Promise<Record<string, string>> => {
    const csv = await ask(socket, 'show stat')
    const [header = '', ...lines] = csv.split('\n')
    const columns = header.replace(/^# /, '').split(',')
    const status = columns.indexOf('status')
    const checkStatus = columns.indexOf('check_status')
    const result: Record<string, string> = {}
    for (const line of lines) {
      const fields = line.split(',')
      const [proxy, server] = fields
      // HAProxy starts every server UP before its first check: a state counts once a check has run
      if (proxy === 'app' && server !== undefined && server !== 'BACKEND' && server !== 'FRONTEND')
        result[server] = fields[checkStatus] === 'INI' ? 'INIT' : (fields[status] ?? '')
    }
    return result
  }
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    await exited
  }
  const deadline = Date.now() + 10_000
  for (;;) {
    if (child.exitCode !== null) throw new Error(`haproxy exited at start: ${stderr}`)
    try {
      await states()
      break
    } catch {
      if (Date.now() > deadline) {
        await stop()
        throw new Error(`haproxy's stats socket did not answer: ${stderr}`)
      }
      await sleep(100)
    }
  }
  return {
    pid: child.pid,
    port: options.port,
    url: `http://127.0.0.1:${options.port}`,
    configFile,
    states,
    logLines: () => lines,
    async waitFor(state, names, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs
      for (;;) {
        const now = await states()
        if (names.every((name) => now[name] === state)) return
        if (Date.now() > until)
          throw new Error(
            `haproxy: ${names.join(', ')} not all ${state} after ${timeoutMs} ms: ${JSON.stringify(now)}`,
          )
        await sleep(100)
      }
    },
    stop,
  }
}

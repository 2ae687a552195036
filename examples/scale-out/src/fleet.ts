import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { createWriteStream } from 'node:fs'
import type { WriteStream } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'

/** One process of the fleet: a web instance (with its port) or a worker. */
export interface Member {
  readonly name: string
  readonly kind: 'web' | 'worker'
  /** The web instance's port (0 for a worker). */
  readonly port: number
  readonly pid: number
  /** Resolves with the exit code (null when ended by a signal). */
  readonly exited: Promise<number | null>
  /** The log lines kept in memory (the worker's "order fulfilled" lines, warnings, errors). */
  readonly lines: readonly string[]
}

interface Running extends Member {
  readonly child: ChildProcess
  readonly lines: string[]
  readonly log: WriteStream
}

/** A member's process ended before it was ready. */
class ExitedEarly extends Error {}

const appDir = fileURLToPath(new URL('../../express-app/', import.meta.url))

/** Lines worth keeping in memory (the rest goes to the member's log file only). */
const KEEP = /order fulfilled|"level":(40|50|60)|worker started|"msg":"listening"/

/**
 * The example app's processes: each is `node --import tsx src/server.ts` (or `src/worker.ts`) of
 * the Express example, as `npm start` / `npm run worker` run them, with the fleet's environment.
 * Every process is tracked by its pid and stopped by it.
 */
export class Fleet {
  readonly #members = new Set<Running>()

  constructor(
    private readonly env: Record<string, string>,
    private readonly logDir: string,
  ) {}

  /**
   * Starts a web instance on `port` and resolves once it answers `GET /healthz`. A process that exits
   * before it listens is started again, twice at most: on a shared development machine another build
   * may be rewriting a package's dist/ at that moment (seen: ERR_MODULE_NOT_FOUND for a dist file).
   */
  async startWeb(name: string, port: number, timeoutMs = 120_000): Promise<Member> {
    for (let attempt = 1; ; attempt++)
      try {
        return await this.#startWebOnce(name, port, timeoutMs)
      } catch (error) {
        if (attempt === 3 || !(error instanceof ExitedEarly)) throw error
        await sleep(2000)
      }
  }

  async #startWebOnce(name: string, port: number, timeoutMs: number): Promise<Member> {
    const member = this.#spawn(name, 'web', port, 'src/server.ts', { PORT: String(port), HOST: '127.0.0.1' })
    const deadline = Date.now() + timeoutMs
    for (;;) {
      if (member.child.exitCode !== null || member.child.signalCode !== null)
        throw new ExitedEarly(`${name} exited before it listened (log: ${join(this.logDir, `${name}.log`)})`)
      try {
        const res = await fetch(`http://127.0.0.1:${port}/healthz`, { signal: AbortSignal.timeout(1000) })
        if (res.ok) return member
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) throw new Error(`${name} did not answer /healthz within ${timeoutMs} ms`)
      await sleep(200)
    }
  }

  /** Starts a worker and resolves once it logged that it started. */
  async startWorker(name: string, timeoutMs = 120_000): Promise<Member> {
    const member = this.#spawn(name, 'worker', 0, 'src/worker.ts', { WORKER_ID: name, LOG_LEVEL: 'info' })
    const deadline = Date.now() + timeoutMs
    while (!member.lines.some((line) => line.includes('worker started'))) {
      if (member.child.exitCode !== null || member.child.signalCode !== null)
        throw new Error(`${name} exited before it started (log: ${join(this.logDir, `${name}.log`)})`)
      if (Date.now() > deadline) throw new Error(`${name} did not start within ${timeoutMs} ms`)
      await sleep(100)
    }
    return member
  }

  /** Sends `signal` to the member and resolves with its exit code once it has exited. */
  async signal(member: Member, signal: NodeJS.Signals, timeoutMs = 30_000): Promise<number | null> {
    const running = this.#find(member)
    if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill(signal)
    const killer = setTimeout(() => running.child.kill('SIGKILL'), timeoutMs)
    const code = await running.exited
    clearTimeout(killer)
    return code
  }

  /** SIGTERM to every member still running (graceful), SIGKILL after 25 s; their exit codes by name. */
  async stopAll(): Promise<Record<string, number | null>> {
    const codes: Record<string, number | null> = {}
    await Promise.all(
      [...this.#members].map(async (member) => {
        codes[member.name] = await this.signal(member, 'SIGTERM', 25_000)
      }),
    )
    return codes
  }

  /** Synchronous last resort (process exit): SIGKILL every member still running. */
  killAllNow(): void {
    for (const member of this.#members)
      if (member.child.exitCode === null && member.child.signalCode === null) member.child.kill('SIGKILL')
  }

  #find(member: Member): Running {
    for (const running of this.#members) if (running === member) return running
    throw new Error(`${member.name} is not a member of this fleet`)
  }

  #spawn(name: string, kind: 'web' | 'worker', port: number, file: string, extra: Record<string, string>) {
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: appDir,
      env: { ...this.env, ...extra },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    if (child.pid === undefined) throw new Error(`${name}: could not spawn ${file}`)
    const log = createWriteStream(join(this.logDir, `${name}.log`), { flags: 'a' })
    const lines: string[] = []
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => {
        resolve(code)
      })
    })
    let rest = ''
    const onData = (chunk: Buffer): void => {
      log.write(chunk)
      rest += chunk.toString('utf8')
      const parts = rest.split('\n')
      rest = parts.pop() ?? ''
      for (const line of parts) if (KEEP.test(line)) lines.push(line)
    }
    child.stdout.on('data', onData)
    child.stderr.on('data', onData)
    void exited.then(() => log.end())
    const member: Running = { name, kind, port, pid: child.pid, exited, lines, child, log }
    // a restarted member replaces the one of the same name that has exited
    for (const old of this.#members)
      if (old.name === name && old.child.exitCode !== null) this.#members.delete(old)
    for (const old of this.#members)
      if (old.name === name && old.child.signalCode !== null) this.#members.delete(old)
    this.#members.add(member)
    return member
  }
}

import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { resolve as resolvePath } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { killOnExit } from './child-cleanup'
import { WorkerError } from './errors'
import { WorkerProcess, describeExit } from './worker-handle'
import type { WorkerHandle } from './worker-handle'

/** Options of `spawnWorker`. */
export interface SpawnWorkerOptions {
  /** The TypeScript (or JS) worker file: a path (absolute, or relative to the cwd) or a `file:` URL. */
  readonly script: string | URL
  /** Passed as `WORKER_INDEX`. @default 0 */
  readonly index?: number
  /** Passed as `WORKER_COUNT`. @default 1 */
  readonly count?: number
  /** Command-line arguments after the script. @default [] */
  readonly args?: readonly string[]
  /** Added to this process' env. @default {} */
  readonly env?: Readonly<Record<string, string>>
  /** SIGKILL the worker and reject `result` after this many ms. @default none */
  readonly timeoutMs?: number
  /**
   * Hold the worker at `waitForGo()` until `go()` is called; without it the "go" is sent as soon
   * as the worker asks. @default false
   */
  readonly startTogether?: boolean
}

/** Options of `runWorkers`. */
export interface RunWorkersOptions extends Omit<SpawnWorkerOptions, 'index' | 'count' | 'timeoutMs'> {
  /** How many processes to run. */
  readonly count: number
  /** Kill them all and reject if any worker has not finished by then. */
  readonly timeoutMs: number
}

/** tsx's loader (ESM and CJS hooks) by absolute URL, so workers start the same from any cwd. */
const tsxLoader: string = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href

/**
 * Runs `count` real Node processes of `script` (TypeScript through tsx) and returns what each
 * reported, in index order: multi-instance behaviour is tested with real processes, not threads
 * sharing one event loop. Rejects with the failing worker's stderr as soon as one exits non-zero,
 * exits without a result or outlives `timeoutMs`, and kills the others.
 */
export async function runWorkers<T = unknown>(options: RunWorkersOptions): Promise<T[]> {
  const { count, timeoutMs, startTogether = false, ...rest } = options
  const handles = Array.from({ length: count }, (_, index) =>
    spawnWorker<T>({ ...rest, index, count, timeoutMs, startTogether }),
  )
  try {
    const finished = handles.map(async (handle) => {
      const [value, exit] = await Promise.all([handle.result, handle.exited])
      if (exit.code !== 0) {
        const why = handle.timedOut
          ? `was killed at timeoutMs (${timeoutMs} ms): does it leave a connection open?`
          : `exited with ${describeExit(exit)}`
        throw new WorkerError(`worker ${handle.index} of ${count} reported a result but then ${why}`, {
          index: handle.index,
          exitCode: exit.code,
          signal: exit.signal,
          stderr: handle.stderr,
        })
      }
      return value
    })
    if (startTogether) {
      await Promise.race([Promise.all(handles.map((h) => h.ready)), Promise.all(finished)])
      for (const handle of handles) handle.go()
    }
    return await Promise.all(finished)
  } catch (error) {
    for (const handle of handles) handle.kill('SIGKILL')
    await Promise.all(handles.map((h) => h.exited))
    throw error
  }
}

/** Starts one worker process and hands back control of it; see `runWorkers` for the common case. */
export function spawnWorker<T = unknown>(options: SpawnWorkerOptions): WorkerHandle<T> {
  const { index = 0, count = 1, args = [], env = {}, timeoutMs, startTogether = false } = options
  const script =
    typeof options.script === 'string' ? resolvePath(options.script) : fileURLToPath(options.script)
  const child = spawn(process.execPath, ['--import', tsxLoader, script, ...args], {
    env: { ...process.env, ...env, WORKER_INDEX: String(index), WORKER_COUNT: String(count) },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    serialization: 'advanced',
  })
  killOnExit(child)
  return new WorkerProcess<T>(child, index, script, timeoutMs, startTogether)
}

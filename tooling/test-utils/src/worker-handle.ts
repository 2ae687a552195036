import type { ChildProcess } from 'node:child_process'
import { WorkerError } from './errors'
import { GO, READY, RESULT, protocolKind, protocolMessage } from './worker-protocol'

/** How a worker process ended. */
export interface WorkerExit {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
}

/** A running worker process, for tests that act on it mid-run (SIGKILL one of N, talk to it). */
export interface WorkerHandle<T = unknown> {
  readonly pid: number
  readonly index: number
  /** The value the worker passed to `reportResult()`; rejects with a `WorkerError` if it died, failed or timed out first. */
  readonly result: Promise<T>
  /** Resolves once the worker has called `waitForGo()`. */
  readonly ready: Promise<void>
  /** Resolves when the process has exited and its output is read; never rejects. */
  readonly exited: Promise<WorkerExit>
  /** Everything the worker printed so far (the last 1 MiB). */
  readonly stdout: string
  readonly stderr: string
  /** Whether it was SIGKILLed for outliving its `timeoutMs`. */
  readonly timedOut: boolean
  /** Releases a worker waiting in `waitForGo()`. */
  go(): void
  kill(signal?: NodeJS.Signals): void
  /** Sends a message the worker reads with `process.on('message')`. */
  send(message: unknown): Promise<void>
  /** Subscribes to the worker's own `process.send` messages (not its result); returns the unsubscribe. */
  onMessage(listener: (message: unknown) => void): () => void
}

/** Output kept per stream: enough for any error message, bounded for chatty workers. */
const OUTPUT_LIMIT = 1 << 20

/** The parent's side of one worker: its IPC protocol, output, timeout and exit. */
export class WorkerProcess<T> implements WorkerHandle<T> {
  readonly pid: number
  readonly index: number
  readonly result: Promise<T>
  readonly ready: Promise<void>
  readonly exited: Promise<WorkerExit>
  #child: ChildProcess
  #stdout = ''
  #stderr = ''
  #listeners = new Set<(message: unknown) => void>()
  #timedOut = false

  constructor(
    child: ChildProcess,
    index: number,
    script: string,
    timeoutMs: number | undefined,
    startTogether: boolean,
  ) {
    this.#child = child
    this.index = index
    this.pid = child.pid ?? -1
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      this.#stdout = tail(this.#stdout + text)
    })
    child.stderr?.setEncoding('utf8').on('data', (text: string) => {
      this.#stderr = tail(this.#stderr + text)
    })

    let spawnError: Error | undefined
    this.exited = new Promise((resolve) => {
      child.once('error', (error) => {
        spawnError = error
        if (child.pid === undefined) resolve({ code: null, signal: null })
      })
      child.once('close', (code, signal) => {
        resolve({ code, signal })
      })
    })

    let reported = false
    let onResult: (value: T) => void = () => undefined
    let onReady: () => void = () => undefined
    this.result = new Promise<T>((resolve) => (onResult = resolve))
    this.ready = new Promise<void>((resolve) => (onReady = resolve))
    child.on('message', (message: unknown) => {
      const kind = protocolKind(message)
      if (kind === RESULT) {
        reported = true
        onResult((message as { value?: T }).value as T)
      } else if (kind === READY) {
        onReady()
        if (!startTogether) this.go()
      } else if (kind === undefined) {
        for (const listener of this.#listeners) listener(message)
      }
    })

    const timer =
      timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            this.#timedOut = true
            child.kill('SIGKILL')
          }, timeoutMs)
    timer?.unref()

    const failure = this.exited.then((exit) => {
      clearTimeout(timer)
      if (reported) return new Promise<never>(() => undefined)
      const what = `worker ${index} (${script})`
      const why = this.#timedOut
        ? `did not finish within ${timeoutMs ?? 0} ms and was killed`
        : spawnError !== undefined
          ? `could not start: ${spawnError.message}`
          : exit.code === 0
            ? 'exited with code 0 without calling reportResult()'
            : `exited with ${describeExit(exit)} before reporting a result`
      throw new WorkerError(`${what} ${why}`, {
        index,
        exitCode: exit.code,
        signal: exit.signal,
        stderr: this.#stderr,
      })
    })
    this.result = Promise.race([this.result, failure])
    // A test that only cares about `exited` must not trip an unhandled rejection.
    this.result.catch(() => undefined)
  }

  get timedOut(): boolean {
    return this.#timedOut
  }

  get stdout(): string {
    return this.#stdout
  }

  get stderr(): string {
    return this.#stderr
  }

  go(): void {
    if (this.#child.connected) this.#child.send(protocolMessage(GO), () => undefined)
  }

  kill(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.#child.exitCode === null && this.#child.signalCode === null) this.#child.kill(signal)
  }

  async send(message: unknown): Promise<void> {
    await new Promise<void>((resolve, reject) => {
      this.#child.send(message as object, (error: Error | null) => {
        if (error === null) resolve()
        else reject(error)
      })
    })
  }

  onMessage(listener: (message: unknown) => void): () => void {
    this.#listeners.add(listener)
    return () => this.#listeners.delete(listener)
  }
}

function tail(text: string): string {
  return text.length > OUTPUT_LIMIT ? text.slice(-OUTPUT_LIMIT) : text
}

/** "code 3" or "signal SIGKILL", for error messages. */
export function describeExit(exit: WorkerExit): string {
  return exit.signal === null ? `code ${exit.code ?? 'unknown'}` : `signal ${exit.signal}`
}

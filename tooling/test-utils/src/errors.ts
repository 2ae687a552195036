/**
 * Errors the helpers throw, with the context a failing test needs (which service, which worker,
 * what it printed) as fields, so a test can assert on them instead of parsing messages.
 */
export class TestUtilsError extends Error {
  /** The stable code of this class of error. */
  static readonly code: string = 'ERR_TEST_UTILS'
  /** The stable code of this error: `ERR_TEST_UTILS_<WHAT>`. */
  readonly code: string

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = new.target.code
  }
}

/** One service a test needs that did not answer, as `requireServices` reports it. */
export interface MissingService {
  readonly name: string
  /** The URL that was tried, password masked. */
  readonly url: string
  readonly reason: string
  /** The exact shell command that starts it. */
  readonly command: string
}

/** Services a test file needs are down; the message names each one and the command that starts it. */
export class ServicesUnavailableError extends TestUtilsError {
  static override readonly code: string = 'ERR_TEST_UTILS_SERVICES_UNAVAILABLE'
  readonly missing: readonly MissingService[]

  constructor(missing: readonly MissingService[]) {
    super(formatMissing(missing))
    this.missing = missing
  }
}

/** A worker process failed, timed out or was killed; `stderr` is what it printed (its tail). */
export class WorkerError extends TestUtilsError {
  static override readonly code: string = 'ERR_TEST_UTILS_WORKER'
  readonly index: number
  readonly exitCode: number | null
  readonly signal: NodeJS.Signals | null
  readonly stderr: string

  constructor(
    message: string,
    context: { index: number; exitCode: number | null; signal: NodeJS.Signals | null; stderr: string },
  ) {
    super(
      context.stderr.trim() === ''
        ? message
        : `${message}\n--- worker stderr ---\n${context.stderr.trimEnd()}`,
    )
    this.index = context.index
    this.exitCode = context.exitCode
    this.signal = context.signal
    this.stderr = context.stderr
  }
}

function formatMissing(missing: readonly MissingService[]): string {
  const lines = missing.map((m) => `  - ${m.name} at ${m.url}: ${m.reason}\n    start it with: ${m.command}`)
  const commands = [...new Set(missing.map((m) => m.command))]
  return [
    `${missing.length} service(s) needed by these tests did not answer:`,
    ...lines,
    `Run ${commands.map((c) => `\`${c}\``).join(' and ')} (URLs come from SCALEKIT_* env vars, see docs/services.md).`,
  ].join('\n')
}

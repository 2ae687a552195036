import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { sleep } from '@scalekit/internal'

/** The assertions the suites use: a structural subset of vitest's and Jest's `expect(actual)`. */
export interface Expectation {
  toBe(expected: unknown): void
  toEqual(expected: unknown): void
  toBeGreaterThanOrEqual(expected: number): void
  toBeInstanceOf(expected: unknown): void
  toMatch(expected: RegExp): void
  toHaveLength(expected: number): void
}

/**
 * The test runner the suites register their tests with: pass vitest's (or Jest's, or Mocha's with
 * an assertion library of that shape) `describe`, `it`, `afterEach` and `expect`. Taken
 * structurally, so the package depends on no test runner.
 */
export interface TestApi {
  readonly describe: (name: string, body: () => void) => void
  readonly it: (name: string, test: () => Promise<void> | void, timeout?: number) => void
  readonly afterEach: (hook: () => Promise<void>) => void
  readonly expect: (actual: unknown) => Expectation
}

/** Polls `check` every 10 ms until it is true; throws `message` after `timeoutMs`. */
export async function eventually(
  check: () => boolean | Promise<boolean>,
  message: string,
  timeoutMs = 15_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${message}`)
    await sleep(10)
  }
}

/** The error `promise` rejects with (or a marker error when it resolves, so the assertion on it fails). */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  return new Error('expected a rejection, the promise resolved')
}

/** Collects what a diagnostics channel publishes until `stop()`. */
export function listen(name: string): { events: unknown[]; stop: () => void } {
  const events: unknown[] = []
  const onMessage = (message: unknown): void => {
    events.push(message)
  }
  subscribe(name, onMessage)
  return {
    events,
    stop: () => {
      unsubscribe(name, onMessage)
    },
  }
}

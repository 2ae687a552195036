import { setTimeout as delay } from 'node:timers/promises'
import { describeError } from './describe-error'

/** Options of `waitFor`. */
export interface WaitForOptions {
  /** Give up after this many ms. @default 5000, generous for 2 slow cores yet short of vitest's 20 s test timeout. */
  readonly timeout?: number
  /** Pause between attempts, in ms. @default 20 */
  readonly interval?: number
  /** What was awaited, for the error: "waitFor timed out" alone does not say which condition failed. */
  readonly message?: string
}

/** A value `if (value)` accepts. */
export type Truthy<T> = Exclude<T, false | 0 | 0n | '' | null | undefined>

/**
 * Polls `predicate` until it returns (or resolves to) a truthy value and returns that value, so
 * tests wait on a condition instead of a fixed sleep. A throw counts as "not yet"; the last error is
 * the `cause` of the timeout error. An attempt that hangs past the deadline is abandoned.
 */
export async function waitFor<T>(
  predicate: () => T | Promise<T>,
  options: WaitForOptions = {},
): Promise<Truthy<Awaited<T>>> {
  const { timeout = 5000, interval = 20, message = 'condition' } = options
  const deadline = Date.now() + timeout
  let lastError: unknown
  let attempts = 0
  for (;;) {
    attempts += 1
    const remaining = deadline - Date.now()
    const attempt = await race(predicate, remaining)
    if (attempt.kind === 'value' && isTruthy(attempt.value)) return attempt.value
    if (attempt.kind === 'error') lastError = attempt.error
    const left = deadline - Date.now()
    if (left <= 0) break
    // The last attempt runs at the deadline, so `timeout` is never cut short by an interval.
    await delay(Math.min(interval, left))
  }
  const last = lastError === undefined ? '' : `; last error: ${describeError(lastError)}`
  throw new Error(`waitFor timed out after ${timeout} ms (${attempts} attempts): ${message}${last}`, {
    cause: lastError,
  })
}

/** Resolves after `ms`: for the rare test that must let time pass (a TTL, a latency), not to wait on a condition. */
export async function sleep(ms: number): Promise<void> {
  await delay(ms)
}

type Attempt<T> = { kind: 'value'; value: T } | { kind: 'error'; error: unknown } | { kind: 'timeout' }

async function race<T>(predicate: () => T | Promise<T>, ms: number): Promise<Attempt<Awaited<T>>> {
  const controller = new AbortController()
  const attempt = (async (): Promise<Attempt<Awaited<T>>> => {
    try {
      return { kind: 'value', value: await predicate() }
    } catch (error) {
      return { kind: 'error', error }
    }
  })()
  const timeout = delay(Math.max(ms, 0), { kind: 'timeout' } as const, { signal: controller.signal }).catch(
    () => ({ kind: 'timeout' }) as const,
  )
  try {
    return await Promise.race([attempt, timeout])
  } finally {
    controller.abort()
  }
}

function isTruthy<T>(value: T): value is Truthy<T> {
  return Boolean(value)
}

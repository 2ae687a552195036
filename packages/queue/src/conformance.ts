import { randomUUID } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import type { DedupStore } from './dedup'

/**
 * The parts of a test runner the suite calls, taken structurally: vitest's, jest's and
 * `node:test`-with-an-expect-library's `describe`, `it` and `expect` fit as they are, and the
 * package depends on none of them.
 */
export interface ConformanceRunner {
  readonly describe: (name: string, body: () => void) => void
  readonly it: (name: string, body: () => Promise<void>) => void
  readonly expect: (actual: unknown) => { toBe(expected: unknown): void }
}

/** Options of {@link dedupStoreConformance}. */
export interface DedupStoreConformanceOptions {
  /** Called after each test with the store it used (close a connection, drop a table). */
  cleanup?: (store: DedupStore) => Promise<void> | void
}

/** The shortest lease the suite takes, and how long it waits for one to lapse. */
const LEASE_MS = 100
const LAPSED_MS = 400

/**
 * The contract of a {@link DedupStore}, as `consume({ dedup })` relies on it, as tests for your
 * runner: `dedupStoreConformance('my store', () => createMyStore(), { describe, it, expect })`.
 * `makeStore` is called for every test; each test uses message ids of its own, so the stores may
 * share a backend. The lease test waits about half a second.
 */
export function dedupStoreConformance(
  name: string,
  makeStore: () => DedupStore | Promise<DedupStore>,
  runner: ConformanceRunner,
  options: DedupStoreConformanceOptions = {},
): void {
  const { describe, it, expect } = runner
  const test = (title: string, body: (store: DedupStore, id: () => string) => Promise<void>): void => {
    it(title, async () => {
      const store = await makeStore()
      const run = randomUUID()
      let n = 0
      try {
        await body(store, () => `conformance-${run}-${++n}`)
      } finally {
        await options.cleanup?.(store)
      }
    })
  }

  describe(`DedupStore conformance: ${name}`, () => {
    test('a new id is claimed', async (store, id) => {
      expect(await store.claim(id(), 10_000)).toBe('claimed')
    })

    test('a claimed id is busy until completed or released', async (store, id) => {
      const a = id()
      await store.claim(a, 10_000)
      expect(await store.claim(a, 10_000)).toBe('busy')
    })

    test('a completed id is done: a redelivery is acknowledged without running the handler', async (store, id) => {
      const a = id()
      await store.claim(a, 10_000)
      await store.complete(a)
      expect(await store.claim(a, 10_000)).toBe('done')
      expect(await store.claim(a, 10_000)).toBe('done')
    })

    test('a released id can be claimed again (the retry runs)', async (store, id) => {
      const a = id()
      await store.claim(a, 10_000)
      await store.release(a)
      expect(await store.claim(a, 10_000)).toBe('claimed')
    })

    test('a release after completion does not forget the id', async (store, id) => {
      const a = id()
      await store.claim(a, 10_000)
      await store.complete(a)
      await store.release(a)
      expect(await store.claim(a, 10_000)).toBe('done')
    })

    test('ids are independent of each other', async (store, id) => {
      const a = id()
      const b = id()
      await store.claim(a, 10_000)
      await store.complete(a)
      expect(await store.claim(b, 10_000)).toBe('claimed')
      await store.release(b)
      expect(await store.claim(a, 10_000)).toBe('done')
    })

    test('a claim whose holder died frees itself after its lease', async (store, id) => {
      const a = id()
      expect(await store.claim(a, LEASE_MS)).toBe('claimed')
      await delay(LAPSED_MS)
      expect(await store.claim(a, 10_000)).toBe('claimed')
    })

    test('concurrent claims of one id: exactly one is claimed', async (store, id) => {
      const a = id()
      const results = await Promise.all(Array.from({ length: 8 }, async () => store.claim(a, 10_000)))
      expect(results.filter((r) => r === 'claimed').length).toBe(1)
      expect(results.filter((r) => r === 'busy').length).toBe(7)
    })
  })
}

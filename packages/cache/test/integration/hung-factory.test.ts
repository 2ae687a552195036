// Issue 12, defect 3: a factory that never settles must not hold its key's stampede lock on every
// instance. At hardTimeout the holder stops renewing and releases the lock, so another instance
// loads the key with its own factory.
import { afterAll, describe, expect, it } from 'vitest'
import { serviceUrls, uniqueName } from '@scalekit/test-utils'
import { type Cache, CacheFactoryTimeoutError, createCache } from '../../src/index'
import { sharedRedis } from './support'

const namespace = uniqueName('hung-factory')
const { cleanup } = sharedRedis(namespace)
const caches: Cache[] = []
afterAll(async () => {
  await Promise.all(caches.map((c) => c.close({ timeout: 100 })))
  await cleanup()
})

function instance(): Cache {
  const cache = createCache({ namespace, redis: serviceUrls.redis, lockLease: 300 })
  caches.push(cache)
  return cache
}

describe('a hung factory on one instance', () => {
  it('releases the key at hardTimeout: another instance runs its own factory', async () => {
    const a = instance()
    const b = instance()
    let started!: () => void
    const holding = new Promise<void>((resolve) => {
      started = resolve
    })
    let aborted = false
    const onA = a.getOrSet(
      'k',
      ({ signal }) => {
        signal.addEventListener('abort', () => {
          aborted = true
        })
        started()
        return new Promise<string>(() => undefined) // never settles
      },
      { hardTimeout: 200 },
    )
    const aOutcome = onA.then(
      () => 'resolved',
      (error: unknown) => error,
    )
    await holding // instance A holds the key's lock and renews it
    let bCalls = 0
    const onB = b.getOrSet(
      'k',
      () => {
        bCalls++
        return 'from-b'
      },
      { hardTimeout: 3_000 },
    )
    // B used to wait out its own hardTimeout: "another instance holds the key's lock", 0 factory calls.
    await expect(onB).resolves.toBe('from-b')
    expect(bCalls).toBe(1)
    const failure = await aOutcome
    expect(failure).toBeInstanceOf(CacheFactoryTimeoutError)
    expect(aborted).toBe(true)
    // The value B loaded is what every instance now reads.
    expect(await a.get('k')).toBe('from-b')
  })
})

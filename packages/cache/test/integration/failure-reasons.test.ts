// Issue 13, item 5: a cache pointed at the wrong port or host says what to check (the host and
// port), carries the socket's ECONNREFUSED / ENOTFOUND as `cause` on every failed call (not a bare
// "did not answer within 250 ms"), and health() says L2 is unavailable as soon as a connection
// failed, before any breaker opens. Error events carry documented codes only (never `ERR_CACHE`).
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { afterEach, describe, expect, it } from 'vitest'
import { freePort, uniqueName, waitFor } from '@scalekit/test-utils'
import { type Cache, CacheUnavailableError, createCache, errors } from '../../src/index'
import { createWriteBehind } from '../../src/write-behind/index'

const caches: Cache[] = []
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.close({ timeout: 100 })))
})

interface Logged {
  readonly obj: Record<string, unknown>
  readonly msg: string | undefined
}

function cacheAt(redis: string, warnings: Logged[] = []): Cache {
  const cache = createCache({
    namespace: uniqueName('reasons'),
    redis,
    logger: { warn: (obj, msg) => warnings.push({ obj: obj as Record<string, unknown>, msg }) },
  })
  caches.push(cache)
  return cache
}

/** The error a call rejected with. */
async function failure(call: Promise<unknown>): Promise<CacheUnavailableError> {
  const error = await call.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(CacheUnavailableError)
  return error as CacheUnavailableError
}

describe('a wrong port or host', () => {
  it('wrong port: every call names 127.0.0.1:<port>, says to check it, and carries ECONNREFUSED', async () => {
    const port = await freePort()
    const warnings: Logged[] = []
    const cache = cacheAt(`redis://127.0.0.1:${port}`, warnings)
    for (let i = 0; i < 3; i++) {
      // The first call connects; the later ones meet the client reconnecting (they used to wait out
      // the timeout and say only "did not answer within 250 ms", with no cause).
      const error = await failure(cache.set('k', i))
      expect(error.message).toContain(`127.0.0.1:${port}`)
      expect(error.message).toMatch(/check the host and port/)
      expect((error.cause as { code?: string } | undefined)?.code).toBe('ECONNREFUSED')
      expect(cache.health()).toMatchObject({ status: 'degraded', l2: { available: false } })
    }
    // The breaker has not opened (3 calls): health() knew from the connection itself.
    expect(cache.health().l2?.breaker).toBe('closed')
    // The factory still answers.
    expect(await cache.getOrSet('user', () => 'from-db')).toBe('from-db')
    // One warning for the episode, naming the host and port and the socket error, never a key.
    const l2 = warnings.filter((w) => w.obj.episode === 'l2-unavailable')
    expect(l2).toHaveLength(1)
    expect(l2[0]?.obj).toMatchObject({ code: 'ERR_CACHE_L2_UNAVAILABLE', cause: 'ECONNREFUSED' })
    expect(l2[0]?.msg).toContain(`127.0.0.1:${port}`)
    expect(JSON.stringify(warnings)).not.toMatch(/"user"|\buser\b/)
  })

  it('wrong host: the call carries ENOTFOUND and names the host', async () => {
    const cache = cacheAt('redis://no-such-host.invalid:6379')
    const error = await failure(cache.set('k', 1))
    expect(error.message).toContain('no-such-host.invalid:6379')
    expect(error.message).toMatch(/check the host and port/)
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain((error.cause as { code?: string } | undefined)?.code)
    await waitFor(() => cache.health().l2?.available === false)
    const again = await failure(cache.get('k').then(() => cache.set('k', 2)))
    expect(['ENOTFOUND', 'EAI_AGAIN']).toContain((again.cause as { code?: string } | undefined)?.code)
  })
})

describe('error events', () => {
  it('carry documented codes only: a cache error code, or ERR_CACHE_WRITE_BEHIND for a failed store write', async () => {
    const codes: string[] = []
    const onError = (event: unknown): void => {
      codes.push((event as { code: string }).code)
    }
    subscribe('scalekit:cache:error', onError)
    try {
      const cache = cacheAt(`redis://127.0.0.1:${await freePort()}`)
      await cache.set('k', 1).catch(() => undefined)
      const memory = createCache({ namespace: uniqueName('reasons-wb'), logger: { warn: () => undefined } })
      caches.push(memory)
      const queue = createWriteBehind<number>(memory, {
        name: 'failing',
        write: () => {
          throw new Error('the store is down')
        },
        maxAttempts: 1,
        flushInterval: 10,
      })
      await queue.set('k', 1)
      await waitFor(() => codes.includes('ERR_CACHE_WRITE_BEHIND'), {
        message: 'a write-behind failure event',
      })
      const documented = new Set<string>([...Object.keys(errors), 'ERR_CACHE_WRITE_BEHIND'])
      documented.delete('ERR_CACHE')
      expect(codes.length).toBeGreaterThan(0)
      for (const code of codes) expect(documented).toContain(code)
    } finally {
      unsubscribe('scalekit:cache:error', onError)
    }
  })
})

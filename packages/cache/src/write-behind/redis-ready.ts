import { CacheUnavailableError } from '../errors'
import { bounded } from './bounded'
import type { WriteBehindRedis } from './types'

/**
 * Waits (up to `timeoutMs`) until `client` is ready, connecting a lazy one nobody connected yet: a
 * client without an offline queue fails every command sent before that, which would surface as a
 * spurious error at startup.
 */
export async function whenReady(client: WriteBehindRedis, timeoutMs: number): Promise<void> {
  if (client.status === 'ready') return
  if (client.status === 'end') throw new CacheUnavailableError('write-behind: the Redis client was closed')
  let cleanup: () => void = () => undefined
  const ready = new Promise<void>((resolve, reject) => {
    const onReady = (): void => {
      resolve()
    }
    const onError = (error: Error): void => {
      reject(error)
    }
    const onEnd = (): void => {
      reject(new Error('the connection was closed'))
    }
    client.once('ready', onReady)
    client.once('error', onError)
    client.once('end', onEnd)
    cleanup = () => {
      client.off('ready', onReady)
      client.off('error', onError)
      client.off('end', onEnd)
    }
  })
  try {
    // Someone else may be connecting it at the same moment; their connect() is as good as ours.
    if (client.status === 'wait') client.connect().catch(() => undefined)
    await bounded('connect', timeoutMs, () => ready)
  } finally {
    cleanup()
  }
}

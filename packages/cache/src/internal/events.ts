import { type CacheErrorEvent, type CacheLockEvent, channels } from '../channels'
import { CacheError } from '../errors'

/** Publishes a lock event when someone listens. */
export function lockEvent(namespace: string, event: CacheLockEvent['event'], waitedMs?: number): void {
  if (!channels.lock.hasSubscribers) return
  const payload: CacheLockEvent = { namespace, event }
  if (waitedMs !== undefined) payload.waitedMs = waitedMs
  channels.lock.publish(payload)
}

/** Publishes an error event (code only: messages may quote user data) when someone listens. */
export function errorEvent(namespace: string, tier: CacheErrorEvent['tier'], error: unknown): void {
  if (!channels.error.hasSubscribers) return
  const code = error instanceof CacheError ? error.code : 'ERR_CACHE'
  channels.error.publish({ namespace, tier, code } satisfies CacheErrorEvent)
}

/**
 * Every Redis key and channel the cache writes under a namespace, built in one place, and the one
 * rule `clear()` follows to decide which of them are cache state. Each family is listed in
 * {@link keyFamilies} as cleared or kept, and a unit test checks every builder against
 * {@link clearedByClear}: a new family must be added here, on purpose, on one side.
 *
 * Shapes (the braces are the Redis Cluster hash tag):
 * - entry `sk:{<ns>:<key>}` and its lock `sk:{<ns>:<key>}:lock` — cleared;
 * - tag invalidation times `sk:{<ns>}:tags` — cleared;
 * - invalidation bus `sk:{<ns>}:bus` — a pub/sub channel, not a key;
 * - write-behind queue `sk:{<ns>:wb:<name>}:stream`, `:dead`, `:leader` — kept: they hold writes
 *   acknowledged as queued and dead letters, which are not cache entries.
 */

export function entryKey(namespace: string, key: string): string {
  return `sk:{${namespace}:${key}}`
}

export function lockKey(namespace: string, key: string): string {
  return `${entryKey(namespace, key)}:lock`
}

export function tagsKey(namespace: string): string {
  return `sk:{${namespace}}:tags`
}

export function busChannel(namespace: string): string {
  return `sk:{${namespace}}:bus`
}

/** Suffixes of a write-behind queue's keys (after its prefix). */
export const queueSuffix = { stream: ':stream', dead: ':dead', leader: ':leader' } as const

export type WriteBehindSuffix = (typeof queueSuffix)[keyof typeof queueSuffix]

/** The prefix of a write-behind queue's keys: `sk:{<ns>:wb:<name>}` (queue names have no braces). */
export function writeBehindPrefix(namespace: string, name: string): string {
  return `sk:{${namespace}:wb:${name}}`
}

export function writeBehindKey(namespace: string, name: string, suffix: WriteBehindSuffix): string {
  return `${writeBehindPrefix(namespace, name)}${suffix}`
}

/** Each key family under a namespace and what `clear()` does with it. */
export const keyFamilies = {
  entry: 'cleared',
  lock: 'cleared',
  tags: 'cleared',
  writeBehindStream: 'kept',
  writeBehindDead: 'kept',
  writeBehindLeader: 'kept',
} as const

/** SCAN patterns that cover every key `clear()` may delete (filtered by {@link clearedByClear}). */
export function clearPatterns(namespace: string): string[] {
  const escaped = namespace.replace(/[*?[\]\\]/g, '\\$&')
  return [`sk:{${escaped}:*`, tagsKey(escaped)]
}

/**
 * Whether `clear()` deletes `redisKey`: an entry (ends with `}`), a lock (ends with `}:lock`) or the
 * tags key of this namespace. Write-behind keys end with `}:stream`, `}:dead` or `}:leader` and
 * are never matched; neither is anything else found under the namespace.
 */
export function clearedByClear(namespace: string, redisKey: string): boolean {
  if (redisKey === tagsKey(namespace)) return true
  const head = `sk:{${namespace}:`
  if (!redisKey.startsWith(head) || redisKey.length <= head.length) return false
  return redisKey.endsWith('}') || (redisKey.endsWith('}:lock') && redisKey.length > head.length + 6)
}

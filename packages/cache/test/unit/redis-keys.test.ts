import { describe, expect, it } from 'vitest'
import {
  clearedByClear,
  entryKey,
  keyFamilies,
  lockKey,
  queueSuffix,
  tagsKey,
  writeBehindKey,
} from '../../src/internal/redis-keys'

const ns = 'app'
// Cache keys chosen to look like other families: a queue prefix, a queue suffix, a lock suffix.
const cacheKeys = ['user:1', 'wb:orders', 'wb:orders}:stream', 'x}:lock', 'x}:dead', '}', 'a{b}c']

/** Every key each family can produce in namespace `ns`, by family. */
const built: Record<keyof typeof keyFamilies, string[]> = {
  entry: cacheKeys.map((k) => entryKey(ns, k)),
  lock: cacheKeys.map((k) => lockKey(ns, k)),
  tags: [tagsKey(ns)],
  writeBehindStream: ['orders', 'a.b-c_1'].map((n) => writeBehindKey(ns, n, queueSuffix.stream)),
  writeBehindDead: ['orders', 'a.b-c_1'].map((n) => writeBehindKey(ns, n, queueSuffix.dead)),
  writeBehindLeader: ['orders', 'a.b-c_1'].map((n) => writeBehindKey(ns, n, queueSuffix.leader)),
}

describe('Redis key families and clear()', () => {
  it.each(Object.entries(keyFamilies))('%s keys are %s by clear()', (family, fate) => {
    for (const key of built[family as keyof typeof keyFamilies])
      expect([key, clearedByClear(ns, key)]).toEqual([key, fate === 'cleared'])
  })

  it('every write-behind suffix has a family', () => {
    expect(Object.keys(queueSuffix).length).toBe(
      Object.keys(keyFamilies).filter((f) => f.startsWith('writeBehind')).length,
    )
  })

  it('never clears another namespace, unknown keys or the namespace prefix itself', () => {
    for (const key of [entryKey('app2', 'k'), tagsKey('app2'), 'sk:{app}:other', 'sk:{app:', 'sk:{app:k}:x'])
      expect([key, clearedByClear(ns, key)]).toEqual([key, false])
  })
})

import { randomBytes } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { serviceUrls, uniqueName } from '@scalekit/test-utils'
import { sharedRedis } from './support'
import { createCache } from '../../src/index'

const namespace = uniqueName('authmeta')
const { redis, cleanup } = sharedRedis(namespace)
afterAll(cleanup)
const encryption = { keys: [{ id: 'k1', key: randomBytes(32).toString('base64') }] }

interface Header {
  ver: number
  created: number
  expiresAt: number
  staleUntil: number
  delta: number
  tomb: number
  tagsLength: number
  /** Tags JSON and sealed value: what follows the header. */
  rest: string
}

const HEADER = /^(\d+)\|(\d+)\|(\d+)\|(\d+)\|(\d+)\|(\d)\|(\d+)\|/

function parse(raw: string): Header {
  const m = HEADER.exec(raw)
  if (m === null) throw new Error('not an entry')
  const [ver, created, expiresAt, staleUntil, delta, tomb, tagsLength] = m.slice(1).map(Number)
  return {
    ver: ver ?? 0,
    created: created ?? 0,
    expiresAt: expiresAt ?? 0,
    staleUntil: staleUntil ?? 0,
    delta: delta ?? 0,
    tomb: tomb ?? 0,
    tagsLength: tagsLength ?? 0,
    rest: raw.slice(m[0].length),
  }
}

const format = (h: Header): string =>
  `${h.ver}|${h.created}|${h.expiresAt}|${h.staleUntil}|${h.delta}|${h.tomb}|${h.tagsLength}|${h.rest}`

const HOUR = 3_600_000
/** Each way of altering a stored entry's header (or the write facts sealed beside the value). */
const tampers: readonly (readonly [string, (h: Header) => Header])[] = [
  ['tag length set to 0', (h) => ({ ...h, tagsLength: 0 })],
  [
    'tags swapped for another tag',
    (h) => ({ ...h, tagsLength: 6, rest: `["t9"]${h.rest.slice(h.tagsLength)}` }),
  ],
  ['one tag dropped', (h) => ({ ...h, tagsLength: 6, rest: `["t2"]${h.rest.slice(h.tagsLength)}` })],
  ['creation time moved later', (h) => ({ ...h, created: h.created + HOUR })],
  ['creation and expiry moved later together', (h) => shift(h, HOUR)],
  ['everything re-stamped 6 s later (a replay)', (h) => shift(h, 6000)],
  ['expiry moved later', (h) => ({ ...h, expiresAt: h.expiresAt + HOUR, staleUntil: h.staleUntil + HOUR })],
  ['grace lengthened', (h) => ({ ...h, staleUntil: h.staleUntil + HOUR })],
  ['refresh delta changed', (h) => ({ ...h, delta: h.delta + 10_000 })],
  ['version set below the write time', (h) => ({ ...h, ver: 1 })],
  [
    'sealed write time moved later',
    (h) => ({ ...h, rest: sealed(h, (w, ttl, mode) => `${w + HOUR}:${ttl}:${mode}:`) }),
  ],
  ['sealed ttl changed', (h) => ({ ...h, rest: sealed(h, (w, ttl, mode) => `${w}:${ttl + HOUR}:${mode}:`) })],
  ['sealed creation mode flipped', (h) => ({ ...h, rest: sealed(h, (w, ttl) => `${w}:${ttl}:c:`) })],
]

function shift(h: Header, ms: number): Header {
  return {
    ...h,
    ver: h.ver + ms,
    created: h.created + ms,
    expiresAt: h.expiresAt + ms,
    staleUntil: h.staleUntil + ms,
  }
}

function sealed(h: Header, rewrite: (writtenAt: number, ttl: number, mode: string) => string): string {
  const tags = h.rest.slice(0, h.tagsLength)
  const value = h.rest.slice(h.tagsLength)
  const m = /^(\d+):(\d+):([wc]):/.exec(value)
  if (m === null) throw new Error('not sealed')
  return tags + rewrite(Number(m[1]), Number(m[2]), m[3] ?? '') + value.slice(m[0].length)
}

describe('an encrypted entry is bound to its header (issue 12, defect 8)', () => {
  it('serves an untouched entry, with its tags still honoured', async () => {
    const cache = createCache({ namespace, redis: serviceUrls.redis, l1: false, encryption })
    await cache.set('intact', { n: 1 }, { ttl: '1m', grace: '30s', tags: ['t1', 't2'] })
    expect(await cache.get('intact')).toStrictEqual({ n: 1 })
    await cache.invalidateTags(['t2'])
    expect(await cache.get('intact')).toBeUndefined()
    await cache.close()
  })

  it.each(tampers)('refuses an entry whose %s, after tag invalidation and before', async (name, tamper) => {
    const cache = createCache({ namespace, redis: serviceUrls.redis, l1: false, encryption })
    const key = `tampered:${name}`
    const redisKey = `sk:{${namespace}:${key}}`
    await cache.set(key, { secret: 'old' }, { ttl: '1m', grace: '30s', tags: ['t1', 't2'] })
    const raw = await redis.get(redisKey)
    expect(raw).not.toBeNull()
    const altered = format(tamper(parse(raw ?? '')))
    expect(altered).not.toBe(raw)
    await redis.set(redisKey, altered, 'KEEPTTL')
    expect(await cache.get(key)).toBeUndefined()
    // The defect: an entry whose tags were hidden survived invalidateTags and was served.
    await cache.invalidateTags([`other:${name}`, 't1'])
    expect(await cache.get(key)).toBeUndefined()
    expect(await cache.getOrSet(key, () => ({ secret: 'new' }))).toStrictEqual({ secret: 'new' })
    await cache.close()
  })

  it('binds entries written by a refresh (an explicit creation time) as well', async () => {
    const cache = createCache({ namespace, redis: serviceUrls.redis, l1: false, encryption, ttl: '1m' })
    let calls = 0
    await cache.getOrSet('refreshed', () => ({ n: ++calls }), { tags: ['t3'] })
    const redisKey = `sk:{${namespace}:refreshed}`
    const raw = parse((await redis.get(redisKey)) ?? '')
    expect(await cache.get('refreshed')).toStrictEqual({ n: 1 })
    await redis.set(redisKey, format({ ...raw, created: raw.created + HOUR }), 'KEEPTTL')
    expect(await cache.get('refreshed')).toBeUndefined()
    await cache.close()
  })
})

import { describe, expect, it } from 'vitest'
import { childTraceparent, isTraceparent } from '../../src/context'
import { backoffDelay } from '../../src/internal/backoff'
import { delayStep, topology } from '../../src/drivers/amqp-topology'
import { createMemoryDedupStore } from '../../src/index'

describe('backoff', () => {
  it('grows by factor, caps at max, and jitters within bounds', () => {
    const b = { initial: 100, factor: 2, max: 1_000, jitter: 0 }
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(b, n))).toEqual([100, 200, 400, 800, 1_000, 1_000])
    const j = { ...b, jitter: 0.5 }
    expect(backoffDelay(j, 1, () => 0)).toBe(50)
    expect(backoffDelay(j, 1, () => 1)).toBe(150)
  })
})

describe('delay ladder', () => {
  it('puts a delay in the power-of-two step at or below it', () => {
    expect([1, 99, 100, 199, 200, 399, 400, 1_000, 86_400_000].map(delayStep)).toEqual([100, 100, 100, 100, 200, 200, 400, 800, 100 * 2 ** 19])
  })

  it('names cannot collide: types and groups have no colon', () => {
    const t = topology('app')
    expect(t.groupQueue('order.placed', 'billing')).toBe('app.billing.order.placed')
    expect(t.deadLetterQueue('billing')).toBe('app.billing:dead-letter')
    expect(t.delayQueue(400)).toBe('app:delay:400')
    expect(t.retryKey('order.placed', 'billing')).toBe('retry:billing.order.placed')
  })
})

describe('traceparent', () => {
  it('keeps the trace id and flags, with a new parent id', () => {
    const parent = '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01'
    const child = childTraceparent(parent)
    expect(isTraceparent(child)).toBe(true)
    expect(child.slice(0, 36)).toBe(parent.slice(0, 36))
    expect(child).not.toBe(parent)
  })

  it('starts a new sampled trace without a valid parent', () => {
    expect(childTraceparent(undefined)).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
    expect(childTraceparent('garbage')).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/)
  })
})

describe('memory dedup store', () => {
  it('claims once, reports busy while held, done after complete, free after release', async () => {
    const store = createMemoryDedupStore()
    expect(await store.claim('a', 10_000)).toBe('claimed')
    expect(await store.claim('a', 10_000)).toBe('busy')
    await store.release('a')
    expect(await store.claim('a', 10_000)).toBe('claimed')
    await store.complete('a')
    expect(await store.claim('a', 10_000)).toBe('done')
  })

  it('frees a claim whose lease ran out', async () => {
    const store = createMemoryDedupStore()
    expect(await store.claim('b', 1)).toBe('claimed')
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(await store.claim('b', 1_000)).toBe('claimed')
  })
})

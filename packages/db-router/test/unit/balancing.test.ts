import { describe, expect, it } from 'vitest'
import { BALANCE_POLICIES, createBalancer } from '../../src/balancing'
import type { Balanceable } from '../../src/balancing'

interface N extends Balanceable {
  name: string
  weight: number
  outstanding: number
  ewmaMs: number
  sampledAt?: number
}
const node = (name: string, over: Partial<N> = {}): N => ({
  name,
  weight: 1,
  outstanding: 0,
  ewmaMs: 0,
  ...over,
})

function tally(picks: readonly N[]): Record<string, number> {
  const out: Record<string, number> = {}
  for (const p of picks) out[p.name] = (out[p.name] ?? 0) + 1
  return out
}

describe('balancing policies', () => {
  it('round-robin takes turns', () => {
    const nodes = [node('a'), node('b'), node('c')]
    const pick = createBalancer<N>('round-robin')
    expect(Array.from({ length: 6 }, () => pick(nodes).name).join('')).toBe('abcabc')
  })

  it('random covers every node', () => {
    const nodes = [node('a'), node('b'), node('c')]
    const pick = createBalancer<N>('random')
    expect(Object.keys(tally(Array.from({ length: 300 }, () => pick(nodes)))).sort()).toEqual(['a', 'b', 'c'])
  })

  it('least-outstanding picks the least busy node, spreading ties', () => {
    const pick = createBalancer<N>('least-outstanding')
    const busy = [node('a', { outstanding: 5 }), node('b', { outstanding: 1 }), node('c', { outstanding: 3 })]
    for (let i = 0; i < 5; i++) expect(pick(busy).name).toBe('b')
    const idle = [node('a'), node('b')]
    expect(tally(Array.from({ length: 10 }, () => pick(idle)))).toEqual({ a: 5, b: 5 })
  })

  it('weighted gives exact shares, interleaved (smooth weighted round-robin)', () => {
    const nodes = [node('a', { weight: 3 }), node('b', { weight: 1 })]
    const pick = createBalancer<N>('weighted')
    const picks = Array.from({ length: 400 }, () => pick(nodes))
    expect(tally(picks)).toEqual({ a: 300, b: 100 })
    expect(
      picks
        .slice(0, 4)
        .map((p) => p.name)
        .join(''),
    ).toBe('aaba')
  })

  it('latency (EWMA, power of two choices) prefers the cheaper of two and handles one node', () => {
    const fast = node('fast', { ewmaMs: 2 })
    const slow = node('slow', { ewmaMs: 50 })
    let r = 0
    const seq = [0, 0, 0.9, 0]
    const pick = createBalancer<N>('latency', () => seq[r++ % seq.length] ?? 0)
    expect(pick([fast, slow]).name).toBe('fast')
    expect(pick([slow, fast]).name).toBe('fast')
    expect(pick([fast]).name).toBe('fast')
    // Load counts: a fast node with many queries in flight loses to an idle slower one.
    const loaded = node('loaded', { ewmaMs: 2, outstanding: 100 })
    const idle = node('idle', { ewmaMs: 10 })
    const pick2 = createBalancer<N>('latency')
    expect(tally(Array.from({ length: 50 }, () => pick2([loaded, idle])))).toEqual({ idle: 50 })
  })

  it('latency: a slow node not used for a while fades back into contention', () => {
    const now = performance.now()
    const fast = node('fast', { ewmaMs: 2, sampledAt: now })
    const slowRecent = node('slow', { ewmaMs: 50, sampledAt: now })
    const slowLongAgo = node('slow', { ewmaMs: 50, sampledAt: now - 60_000 })
    const pick = createBalancer<N>('latency')
    expect(pick([fast, slowRecent]).name).toBe('fast')
    expect(pick([fast, slowLongAgo]).name).toBe('slow')
  })

  it('names every policy', () => {
    expect(BALANCE_POLICIES).toEqual(['round-robin', 'random', 'least-outstanding', 'weighted', 'latency'])
  })
})

/**
 * The window edge: limit 100 per second. One request at a whole second starts every limiter's
 * window (rate-limiter-flexible and rate-limit-redis start theirs at a key's first request, the
 * clock-aligned ones at the second); then 150 requests 40 ms before the next second and 150 more
 * 10 ms after it. How many each allows within those 50 ms (a fixed window resets at the edge).
 */
import type { Redis } from 'ioredis'
import { printTable } from '../harness'
import { ALL, makeSubjects } from './contenders'

async function untilMsOfSecond(ms: number): Promise<void> {
  for (;;) {
    const now = Date.now() % 1000
    if (Math.abs(now - ms) < 2) return
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, ((ms - now + 1000) % 1000) - 1)))
  }
}

export async function runEdge(redis: Redis, prefix: string): Promise<unknown> {
  const out: Record<string, number> = {}
  const rows: (readonly string[])[] = [
    ['', 'allowed of 301 within 1.05 s, 300 of them within ~50 ms around an edge', 'limit + burst'],
  ]
  for (const burst of [100, 10]) {
    const subjects = await makeSubjects(
      redis,
      `${prefix}:edge${burst}`,
      { limit: 100, periodMs: 1000, burst },
      burst === 100 ? ALL : ['scalekit GCRA'],
    )
    for (const s of subjects) {
      const key = `edge-${burst}`
      await untilMsOfSecond(0)
      await s.decide(key)
      await untilMsOfSecond(960)
      const before = await Promise.all(Array.from({ length: 150 }, () => s.decide(key)))
      await untilMsOfSecond(10)
      const after = await Promise.all(Array.from({ length: 150 }, () => s.decide(key)))
      const allowed = [...before, ...after].filter(Boolean).length + 1
      const name = s.name.startsWith('scalekit GCRA') ? `${s.name} (burst ${burst})` : s.name
      out[name] = allowed
      rows.push([
        name,
        String(allowed),
        s.name.startsWith('scalekit GCRA') ? String(100 + burst) : '100 per window',
      ])
      await s.close()
    }
  }
  printTable('window edge: limit 100/s', rows)
  return out
}

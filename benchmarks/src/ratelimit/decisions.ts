/**
 * Decisions per second and p50/p99 per decision, 20 in flight, over 1000 keys that never run out
 * (every decision allowed: the fast path never answers), on the shared Redis. `SK_RL_SUBJECTS=<regexp>`
 * keeps the contenders it matches (and the INCR floor), `SK_RL_ROUNDS` sets the rounds (5).
 */
import type { Redis } from 'ioredis'
import { interleave, printSummaries, timeConcurrent } from '../harness'
import { DECISIONS, makeSubjects } from './contenders'

export async function runDecisions(redis: Redis, prefix: string, quick: boolean): Promise<unknown> {
  const only = process.env.SK_RL_SUBJECTS === undefined ? undefined : new RegExp(process.env.SK_RL_SUBJECTS)
  const subjects = await makeSubjects(
    redis,
    `${prefix}:dec`,
    { limit: 1_000_000, periodMs: 60_000 },
    DECISIONS.filter((name) => only === undefined || name === 'raw INCR + PEXPIRE' || only.test(name)),
  )
  const rounds = quick ? 1 : Number(process.env.SK_RL_ROUNDS ?? 5)
  try {
    const summaries = await interleave(subjects, rounds, (s) =>
      timeConcurrent((loop, i) => s.decide(`k${(loop * 7919 + i) % 1000}`), 20, quick ? 300 : 1500),
    )
    printSummaries('decisions: allowed, 1000 keys, 20 in flight', summaries)
    return summaries.map(({ rounds: _rounds, ...s }) => s)
  } finally {
    for (const s of subjects) await s.close()
  }
}

/**
 * API key verification with a wrong secret: one that shares no leading character with the right one,
 * and one that shares all but the last. verify() compares SHA-256 digests in constant time, so the
 * two should cost the same; the ratio is taken within each round.
 */
import type { Contender } from '../harness'
import { interleave, printSummaries, timeSequential } from '../harness'
import { session } from './peers'

interface KeyContender extends Contender {
  readonly key: string
}

export async function runApiKeyTiming(quick: boolean): Promise<unknown> {
  const apiKeys = session.createApiKeys()
  const { key } = await apiKeys.issue({ owner: 'bench' })
  const prefix = key.slice(0, key.length - 43)
  const secret = key.slice(-43)
  const flip = (c: string): string => (c === 'A' ? 'B' : 'A')
  const none = `${prefix}${secret.split('').map(flip).join('')}`
  const allButLast = `${prefix}${secret.slice(0, 42)}${flip(secret[42] ?? 'A')}`
  const contenders: KeyContender[] = [
    { name: 'wrong secret, 0 leading chars right (floor)', floor: true, key: none },
    { name: 'wrong secret, 42 of 43 leading chars right', key: allButLast },
  ]
  const summaries = await interleave(contenders, quick ? 1 : 7, (c) =>
    timeSequential(() => apiKeys.verify(c.key).catch(() => undefined), quick ? 200 : 800),
  )
  printSummaries('API key verify with a wrong secret (memory store)', summaries)
  await apiKeys.close()
  return summaries
}

import { gcra } from './gcra'
import { type Bucket, tokenBucket } from './token-bucket'
import type { Algorithm, Model, Params } from './types'
import { type FixedWindow, fixedWindow, type SlidingWindow, slidingLog, slidingWindow } from './windows'

/** The model of each algorithm (state types erased: a store keeps whatever its model returns). */
export const models: Readonly<Record<Algorithm, Model<unknown>>> = {
  gcra: gcra,
  'token-bucket': tokenBucket,
  'fixed-window': fixedWindow,
  'sliding-window': slidingWindow,
  'sliding-log': slidingLog,
}

/**
 * The units a key's state still counts as spent at `nowUs`: what the local fallback hands to Redis
 * (as `carry`) when Redis is back, so requests allowed during the outage are not allowed again.
 */
export function outstanding(algorithm: Algorithm, state: unknown, nowUs: number, p: Params): number {
  switch (algorithm) {
    case 'gcra':
      return Math.max(0, ((state as number) - nowUs) / p.intervalUs)
    case 'token-bucket': {
      const b = state as Bucket
      return Math.max(0, p.burst - Math.min(p.burst, b.tokens + (nowUs - b.at) / p.intervalUs))
    }
    case 'fixed-window': {
      const w = state as FixedWindow
      return w.window === Math.floor(nowUs / p.periodUs) ? w.count : 0
    }
    case 'sliding-window': {
      const w = state as SlidingWindow
      return w.window === Math.floor(nowUs / p.periodUs) ? w.current : 0
    }
    case 'sliding-log':
      return (state as readonly number[]).filter((at) => at > nowUs - p.periodUs).length
  }
}

export { ALGORITHMS, type Algorithm, type Model, type Outcome, type Params } from './types'
export { gcra, gcraParams } from './gcra'

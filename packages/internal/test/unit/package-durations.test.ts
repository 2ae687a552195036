import { describe, expect, it } from 'vitest'
import { createCache } from '../../../cache/src/index'
import { createDbRouter } from '../../../db-router/src/index'
import { createQueue } from '../../../queue/src/index'
import { MAX_DURATION_MS } from '../../src/index'

/**
 * Issue 12, defect 19, as a class: no duration option of any package takes a value Node's timers
 * cannot hold (above 2³¹−1 ms a timer fires after 1 ms). Each option, given one step past the bound
 * as a number and as a string, is refused at construction with the package's options error; the
 * bound itself is accepted.
 */
const PAST = [MAX_DURATION_MS + 1, '720h', '25d'] as const
const primary = 'postgres://127.0.0.1:1/never-connected'

const options: {
  name: string
  code: string
  build: (value: number | string) => { close(): Promise<void> }
}[] = [
  ...['ttl', 'grace', 'negativeTtl', 'timeout', 'lockLease', 'tagRetention'].map((option) => ({
    name: `cache ${option}`,
    code: 'ERR_CACHE_INVALID_OPTIONS',
    build: (value: number | string) => createCache({ namespace: 'durations', [option]: value }),
  })),
  {
    name: 'cache breaker.resetTimeout',
    code: 'ERR_CACHE_INVALID_OPTIONS',
    build: (value) => createCache({ namespace: 'durations', breaker: { resetTimeout: value as number } }),
  },
  ...(
    [
      ['timeouts', 'query'],
      ['timeouts', 'connect'],
      ['health', 'interval'],
      ['health', 'timeout'],
      ['consistency', 'maxWait'],
      ['breaker', 'resetTimeout'],
    ] as const
  ).map(([group, option]) => ({
    name: `db-router ${group}.${option}`,
    code: 'ERR_DB_INVALID_OPTIONS',
    build: (value: number | string) =>
      createDbRouter({ primary, replicas: [], [group]: { [option]: value } }),
  })),
  ...['connectTimeout', 'operationTimeout', 'heartbeat', 'publishTimeout', 'maxDelay', 'statsInterval'].map(
    (option) => ({
      name: `queue ${option}`,
      code: 'ERR_QUEUE_INVALID_OPTIONS',
      build: (value: number | string) => createQueue({ url: 'memory:', [option]: value }),
    }),
  ),
]

describe.each(options)('$name', ({ code, build }) => {
  it.each(PAST)('refuses %s at construction', (value) => {
    expect(() => build(value)).toThrow(expect.objectContaining({ code }) as Error)
  })
})

describe('the bound itself', () => {
  it('is accepted by each package', async () => {
    for (const make of [
      () => createCache({ namespace: 'durations', ttl: MAX_DURATION_MS }),
      () => createDbRouter({ primary, replicas: [], timeouts: { query: MAX_DURATION_MS } }),
      () => createQueue({ url: 'memory:', publishTimeout: MAX_DURATION_MS }),
    ]) {
      await make().close()
    }
  })
})

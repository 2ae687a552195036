import autocannon from 'autocannon'
import { setTimeout as sleep } from 'node:timers/promises'
import { call } from './client.js'

/** What a load run measured. */
export interface LoadFigures {
  readonly requests: number
  /** Mean requests per second over the run. */
  readonly rps: number
  /** Latency percentiles, ms. */
  readonly p50: number
  readonly p99: number
  /** The slowest answer, ms. */
  readonly max: number
  readonly status2xx: number
  readonly status4xx: number
  readonly status5xx: number
  /** Connection errors and timeouts (no HTTP answer at all). */
  readonly errors: number
}

/** A load run started in the background; `stop()` ends it early and gives its figures. */
export interface RunningLoad {
  stop(): Promise<LoadFigures>
  readonly done: Promise<LoadFigures>
}

/**
 * autocannon against `url` cycling over `paths`: bounded by `seconds` (and stopped earlier by
 * `stop()`), loopback only.
 */
export function startLoad(options: {
  url: string
  paths: readonly string[]
  connections: number
  seconds: number
}): RunningLoad {
  let instance: autocannon.Instance | undefined
  const done = new Promise<LoadFigures>((resolve, reject) => {
    instance = autocannon(
      {
        url: options.url,
        connections: options.connections,
        duration: options.seconds,
        timeout: 10,
        requests: options.paths.map((path) => ({ method: 'GET' as const, path })),
      },
      (error: Error | null, result: autocannon.Result) => {
        if (error !== null) {
          reject(error)
          return
        }
        resolve({
          requests: result.requests.total,
          rps: result.requests.average,
          p50: result.latency.p50,
          p99: result.latency.p99,
          max: result.latency.max,
          status2xx: result['2xx'],
          status4xx: result['4xx'],
          status5xx: result['5xx'],
          errors: result.errors + result.timeouts,
        })
      },
    )
  })
  return {
    done,
    async stop() {
      instance?.stop()
      return done
    },
  }
}

/** What an order loop saw: the orders acknowledged (201) and every other answer by status. */
export interface OrderFigures {
  readonly acknowledged: number[]
  readonly statuses: Record<string, number>
  readonly status5xx: number
}

/**
 * Places orders through the balancer at a steady pace (`perSecond`, alternating the tokens given:
 * the app limits each user to 10 a second), until `stop()`. An order counts as acknowledged only
 * when the API answered 201 with its id.
 */
export function startOrders(options: {
  url: string
  tokens: readonly string[]
  productId: number
  perSecond: number
}): { stop(): Promise<OrderFigures> } {
  const acknowledged: number[] = []
  const statuses: Record<string, number> = {}
  const inFlight = new Set<Promise<void>>()
  const state = { stopped: false }
  let n = 0
  const place = async (token: string): Promise<void> => {
    const answer = await call<{ orderId?: number }>(`${options.url}/orders`, {
      method: 'POST',
      token,
      body: { productId: options.productId, quantity: 1 },
    })
    statuses[answer.status] = (statuses[answer.status] ?? 0) + 1
    if (answer.status === 201 && typeof answer.body.orderId === 'number')
      acknowledged.push(answer.body.orderId)
  }
  const loop = (async () => {
    while (!state.stopped) {
      const token = options.tokens[n++ % options.tokens.length]!
      const p = place(token).finally(() => inFlight.delete(p))
      inFlight.add(p)
      await sleep(1000 / options.perSecond)
    }
  })()
  return {
    async stop() {
      state.stopped = true
      await loop
      await Promise.all(inFlight)
      const status5xx = Object.entries(statuses)
        .filter(([status]) => Number(status) >= 500)
        .reduce((sum, [, count]) => sum + count, 0)
      return { acknowledged, statuses, status5xx }
    },
  }
}

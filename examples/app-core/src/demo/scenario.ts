import { randomUUID } from 'node:crypto'
import { setTimeout as delay } from 'node:timers/promises'
import { demoUsers } from '../catalogue.js'

/** What the scenario measured against a running app. Every figure is read from the app, none is written in. */
export interface ScenarioReport {
  readonly burst: {
    readonly requests: number
    readonly ok: number
    readonly factoryCalls: number
    /** Statuses other than 200, with their counts (none expected). */
    readonly others: Record<string, number>
  }
  readonly cache: { readonly hitRatio: number; readonly gets: Record<string, number> }
  /** Product views counted write-behind: how many views, how many database writes carried them. */
  readonly views: {
    readonly counted: number
    readonly stored: number
    readonly batches: number
    readonly rows: number
  }
  readonly order: {
    readonly requestId: string
    readonly orderId: number
    readonly status: string
    readonly email: readonly { recipient: string; subject: string }[]
    readonly apiLogLines: number
    readonly workerLogLines: number
    readonly workerPid: number | undefined
    readonly apiPid: number | undefined
  }
  /** Orders of several customers: the shard each landed on (as the app routed them). */
  readonly shards: {
    readonly orders: number
    readonly customers: number
    /** The app's order shards (`main` alone: no shards configured). */
    readonly shards: readonly string[]
    readonly byShard: Record<string, number>
  }
  /** The queue's transport: `amqp` (RabbitMQ) or `memory`. */
  readonly transport: 'amqp' | 'memory'
  /** An order whose e-mail step failed twice (simulated): retried with backoff, then fulfilled. */
  readonly retry: {
    readonly orderId: number
    readonly failures: number
    readonly status: string
    readonly attempts: number | null
    readonly seconds: number
  }
  /** An order whose e-mail step always fails (a poison message): dead-lettered after its attempts. */
  readonly deadLetter: {
    readonly orderId: number
    readonly reason: string | undefined
    readonly attempts: number | undefined
    readonly error: string | undefined
  }
  readonly refresh: {
    readonly reuse: { readonly status: number; readonly code?: string; readonly reason?: string }
    readonly detected: boolean
    readonly successorAfterReuse: number
    readonly accessAfterReuse: number
  }
  readonly rateLimit: {
    readonly allowedBefore: number
    readonly status: number
    readonly retryAfter: string | null
  }
  readonly metrics: readonly string[]
}

interface Reply<T> {
  readonly status: number
  readonly body: T
  readonly headers: Headers
}

async function call<T = Record<string, unknown>>(
  url: string,
  path: string,
  init: { method?: string; body?: unknown; token?: string; headers?: Record<string, string> } = {},
): Promise<Reply<T>> {
  const headers: Record<string, string> = { ...init.headers }
  if (init.body !== undefined) headers['content-type'] = 'application/json'
  if (init.token !== undefined) headers['authorization'] = `Bearer ${init.token}`
  const response = await fetch(url + path, {
    method: init.method ?? 'GET',
    headers,
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(30_000),
  })
  const text = await response.text()
  const type = response.headers.get('content-type') ?? ''
  return {
    status: response.status,
    headers: response.headers,
    body: (type.includes('json') ? JSON.parse(text) : text) as T,
  }
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await fn()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await delay(50)
  }
}

interface Tokens {
  accessToken: string
  refreshToken: string
}

async function login(url: string, user: (typeof demoUsers)[number]): Promise<Tokens> {
  const reply = await call<Tokens>(url, '/login', {
    method: 'POST',
    body: { email: user.email, password: user.password },
  })
  if (reply.status !== 200)
    throw new Error(`login of ${user.email} answered ${reply.status}: ${JSON.stringify(reply.body)}`)
  return reply.body
}

/** Sums the samples of one metric whose labels contain every given `name="value"`. */
function sample(text: string, metric: string, labels: Record<string, string> = {}): number {
  let total = 0
  for (const line of text.split('\n')) {
    if (!line.startsWith(metric + '{') && !line.startsWith(metric + ' ')) continue
    if (Object.entries(labels).every(([name, value]) => line.includes(`${name}="${value}"`)))
      total += Number(line.slice(line.lastIndexOf(' ') + 1))
  }
  return total
}

/**
 * Drives a running example app: a read burst on a cold product, an order through the queue to the
 * worker, a refresh-token reuse, a client over its login limit, and a look at `/metrics`.
 */
export async function runScenario(
  url: string,
  logs: () => readonly string[],
  productId = 7,
): Promise<ScenarioReport> {
  const [alice, root, ...others] = demoUsers
  const admin = await login(url, root)
  const stats = async () =>
    (
      await call<{
        productLoads: number
        queue: 'amqp' | 'memory'
        orderShards: string[]
        viewWrites: { batches: number; rows: number }
      }>(url, '/admin/stats', {
        token: admin.accessToken,
      })
    ).body
  const storedViews = async () =>
    (await call<{ views: number }>(url, `/products/${productId}/views`)).body.views

  // 1. A cold product: the admin's update drops it from the cache (every instance), then 500 reads at once.
  const update = await call(url, `/products/${productId}`, {
    method: 'PATCH',
    token: admin.accessToken,
    body: { priceCents: 4200 },
  })
  if (update.status !== 200) throw new Error(`PATCH /products/${productId} answered ${update.status}`)
  const statsBefore = await stats()
  const viewsBefore = await storedViews()
  const before = (await call<string>(url, '/metrics')).body
  const burst = await Promise.all(Array.from({ length: 500 }, () => call(url, `/products/${productId}`)))
  const loadsAfter = (await stats()).productLoads
  let warm = 0
  for (let i = 0; i < 100; i++) if ((await call(url, `/products/${productId}`)).status === 200) warm++ // warm reads after the burst
  const after = (await call<string>(url, '/metrics')).body
  const gets: Record<string, number> = {}
  for (const outcome of ['hit', 'coalesced', 'stale', 'miss'])
    for (const tier of ['l1', 'l2', 'factory']) {
      const labels = { cache_tier: tier, cache_outcome: outcome }
      const delta =
        sample(after, 'scalekit_cache_gets_total', labels) -
        sample(before, 'scalekit_cache_gets_total', labels)
      if (delta > 0) gets[`${tier} ${outcome}`] = delta
    }
  const total = Object.values(gets).reduce((a, b) => a + b, 0)
  const answeredWithoutSource = Object.entries(gets)
    .filter(([name]) => !name.startsWith('factory'))
    .reduce((sum, [, n]) => sum + n, 0)

  // Every view answered was counted in memory and queued write-behind; the database gets them in batches.
  const counted = burst.filter((r) => r.status === 200).length + warm
  const stored = await until('the view counts to be flushed', async () => {
    const n = (await storedViews()) - viewsBefore
    return n >= counted ? n : undefined
  })
  const statsAfter = await stats()

  // 2. An order: the request id we send is in the API's access log and in the worker's log.
  const customer = await login(url, alice)
  const requestId = `demo-order-${randomUUID().slice(0, 8)}`
  const placed = await call<{ orderId: number }>(url, '/orders', {
    method: 'POST',
    token: customer.accessToken,
    body: { productId, quantity: 1 },
    headers: { 'x-request-id': requestId },
  })
  if (placed.status !== 201)
    throw new Error(`POST /orders answered ${placed.status}: ${JSON.stringify(placed.body)}`)
  const orderId = placed.body.orderId
  const status = await until('the worker to fulfil the order', async () => {
    const order = await call<{ status: string }>(url, `/orders/${orderId}`, { token: customer.accessToken })
    return order.body.status === 'fulfilled' ? order.body.status : undefined
  })
  const email = (
    await call<{ recipient: string; subject: string }[]>(url, `/orders/${orderId}/emails`, {
      token: customer.accessToken,
    })
  ).body
  const tagged = await until('the worker log line', () => {
    const found = logs()
      .filter((line) => line.includes(requestId))
      .map((line) => JSON.parse(line) as { pid?: number; worker?: string; msg?: string })
    return Promise.resolve(found.some((entry) => entry.worker !== undefined) ? found : undefined)
  })
  const workerLines = tagged.filter((entry) => entry.worker !== undefined)
  const apiLines = tagged.filter((entry) => entry.worker === undefined)

  // 3. Orders of other customers: each lands on its customer's shard (one shard without DATABASE_SHARD_URLS).
  const placedBy = await Promise.all(
    others.map(async (user) => {
      const tokens = await login(url, user)
      const reply = await call<{ orderId: number; shard: string }>(url, '/orders', {
        method: 'POST',
        token: tokens.accessToken,
        body: { productId, quantity: 1 },
      })
      if (reply.status !== 201) throw new Error(`POST /orders for ${user.email} answered ${reply.status}`)
      return reply.body.shard
    }),
  )
  const traced = await call<{ shard: string }>(url, `/orders/${orderId}`, { token: customer.accessToken })
  const byShard: Record<string, number> = {}
  for (const shard of [traced.body.shard, ...placedBy]) byShard[shard] = (byShard[shard] ?? 0) + 1

  // 4. Failures in the worker (SIMULATE_FAULTS=1): an e-mail step that fails twice, then works (retried
  // with backoff), and one that always fails (a poison message: dead-lettered after its attempts).
  const order = async (emailFailures: number) => {
    const reply = await call<{ orderId: number }>(url, '/orders', {
      method: 'POST',
      token: customer.accessToken,
      body: { productId, quantity: 1, simulate: { emailFailures } },
    })
    if (reply.status !== 201)
      throw new Error(`POST /orders (simulate) answered ${reply.status}: ${JSON.stringify(reply.body)}`)
    return reply.body.orderId
  }
  const retryStarted = performance.now()
  const [retryId, poisonId] = await Promise.all([order(2), order(10)])
  const retried = await until('the retried order to be fulfilled', async () => {
    const reply = await call<{ status: string; attempts: number | null }>(url, `/orders/${retryId}`, {
      token: customer.accessToken,
    })
    return reply.body.status === 'fulfilled' ? reply.body : undefined
  })
  const retrySeconds = (performance.now() - retryStarted) / 1000
  type Letter = { reason?: string; attempts?: number; error?: string; payload?: { orderId?: number } }
  const dead = await until(
    'the poison message in the dead letters',
    async () => {
      const letters = await call<Letter[]>(url, '/admin/dead-letters', {
        method: 'POST',
        token: admin.accessToken,
      })
      return letters.body.find((letter) => letter.payload?.orderId === poisonId)
    },
    30_000,
  )

  // 5. A stolen refresh token: used once by the thief (rotation), then again by the victim.
  const family = await login(url, alice)
  const rotated = await call<Tokens>(url, '/refresh', {
    method: 'POST',
    body: { refreshToken: family.refreshToken },
  })
  const reuse = await call<{ code?: string; reason?: string }>(url, '/refresh', {
    method: 'POST',
    body: { refreshToken: family.refreshToken },
  })
  const detected = reuse.status === 401 && reuse.body.reason === 'reuse'
  const successor = await call(url, '/refresh', {
    method: 'POST',
    body: { refreshToken: rotated.body.refreshToken },
  })
  let accessAfterReuse = (await call(url, '/me', { token: rotated.body.accessToken })).status
  if (detected)
    accessAfterReuse = await until(
      'the revocation to reach the API',
      async () => {
        const me = await call(url, '/me', { token: rotated.body.accessToken })
        return me.status === 401 ? me.status : undefined
      },
      5_000,
    )

  // 6. Login is limited per client address (5 a minute): a client guessing passwords gets 429.
  let allowedBefore = 0
  let limited: Reply<unknown> | undefined
  for (let i = 0; i < 40 && limited === undefined; i++) {
    const reply = await call(url, '/login', {
      method: 'POST',
      body: { email: alice.email, password: `guess-${i}` },
    })
    if (reply.status === 429) limited = reply
    else allowedBefore++
  }

  const metrics = (await call<string>(url, '/metrics')).body
    .split('\n')
    .filter((line) =>
      /^(http_server_request_duration_seconds_count\{[^}]*(products\/:id|orders)|scalekit_cache_gets_total|scalekit_queue_dead_letters_total|messaging_process_duration_seconds_count|scalekit_session_refreshes_total|scalekit_session_events_total\{event="reuse"|scalekit_ratelimit_[a-z_]*total)/.test(
        line,
      ),
    )

  return {
    burst: {
      others: countOthers(burst.map((r) => r.status)),
      requests: burst.length,
      ok: burst.filter((r) => r.status === 200).length,
      factoryCalls: loadsAfter - statsBefore.productLoads,
    },
    cache: { hitRatio: total === 0 ? 0 : answeredWithoutSource / total, gets },
    order: {
      requestId,
      orderId,
      status,
      email,
      apiLogLines: apiLines.length,
      workerLogLines: workerLines.length,
      apiPid: apiLines[0]?.pid,
      workerPid: workerLines[0]?.pid,
    },
    views: {
      counted,
      stored,
      batches: statsAfter.viewWrites.batches - statsBefore.viewWrites.batches,
      rows: statsAfter.viewWrites.rows - statsBefore.viewWrites.rows,
    },
    shards: {
      orders: placedBy.length + 1,
      customers: placedBy.length + 1,
      shards: statsAfter.orderShards,
      byShard,
    },
    transport: statsAfter.queue,
    retry: {
      orderId: retryId,
      failures: 2,
      status: retried.status,
      attempts: retried.attempts,
      seconds: retrySeconds,
    },
    deadLetter: { orderId: poisonId, reason: dead.reason, attempts: dead.attempts, error: dead.error },
    refresh: {
      reuse: { status: reuse.status, ...reuse.body },
      detected,
      successorAfterReuse: successor.status,
      accessAfterReuse,
    },
    rateLimit: {
      allowedBefore,
      status: limited?.status ?? 0,
      retryAfter: limited?.headers.get('retry-after') ?? null,
    },
    metrics,
  }
}

function countOthers(statuses: number[]): Record<string, number> {
  const counts: Record<string, number> = {}
  for (const status of statuses) if (status !== 200) counts[status] = (counts[status] ?? 0) + 1
  return counts
}

/** The report in a few readable lines. */
export function formatReport(report: ScenarioReport): string[] {
  const pct = (x: number): string => `${(100 * x).toFixed(1)}%`
  const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`
  const { burst, cache, views, order, shards, retry, deadLetter, refresh, rateLimit } = report
  const ladder =
    report.transport === 'amqp' ? "through RabbitMQ's delay ladder" : 'with backoff (in-memory timers)'
  const lines = [
    `cache     ${burst.requests} concurrent GET /products/:id on a cold product: ${burst.ok} answered 200${Object.keys(burst.others).length > 0 ? ` (others: ${JSON.stringify(burst.others)})` : ''}, ${plural(burst.factoryCalls, 'database load')} (getOrSet stampede protection)`,
    `cache     hit ratio over the burst and 100 reads after it: ${pct(cache.hitRatio)} (${Object.entries(
      cache.gets,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')})`,
    `views     ${views.counted} views counted write-behind, ${views.stored} in the database after ${plural(views.batches, 'batched write')} (${plural(views.rows, 'row')}) by this instance`,
    `queue     order ${order.orderId} ${order.status} by the worker; e-mail stub recorded "${order.email[0]?.subject ?? 'nothing'}" to ${order.email[0]?.recipient ?? '-'}`,
    `logs      request id ${order.requestId}: ${order.apiLogLines} API line(s) (pid ${order.apiPid}), ${order.workerLogLines} worker line(s) (pid ${order.workerPid}${order.apiPid === order.workerPid ? ', the same process: in-memory queue' : ''})`,
    shards.shards.length > 1
      ? `shards    ${plural(shards.orders, 'order')} of ${plural(shards.customers, 'customer')}, sharded by customer over ${shards.shards.join(', ')}: ${Object.entries(
          shards.byShard,
        )
          .map(([name, n]) => `${name} ${n}`)
          .join(', ')}`
      : `shards    ${plural(shards.orders, 'order')} of ${plural(shards.customers, 'customer')}, all on one shard (${shards.shards[0]}: the main database; set DATABASE_SHARD_URLS to shard orders by customer)`,
    `retry     order ${retry.orderId}: its e-mail step failed ${retry.failures} times (simulated), retried ${ladder}, ${retry.status} on attempt ${retry.attempts} after ${retry.seconds.toFixed(1)} s`,
    `dead      order ${deadLetter.orderId}, whose e-mail step always fails: dead-lettered after ${deadLetter.attempts} attempts (${deadLetter.reason}: ${deadLetter.error})`,
    refresh.detected
      ? `session   refresh token reused: ${refresh.reuse.status} ${refresh.reuse.code} (${refresh.reuse.reason}); the family is revoked: its newest refresh token answers ${refresh.successorAfterReuse}, its access token ${refresh.accessAfterReuse}`
      : `session   refresh token reused: answered ${refresh.reuse.status}, reuse NOT detected`,
    `ratelimit login: ${rateLimit.allowedBefore} wrong password(s) allowed, then ${rateLimit.status} with Retry-After: ${rateLimit.retryAfter} s`,
    `metrics   a slice of /metrics:`,
    ...report.metrics.slice(0, 14).map((line) => `            ${line}`),
  ]
  return lines
}

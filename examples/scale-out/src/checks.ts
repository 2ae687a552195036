import { setTimeout as sleep } from 'node:timers/promises'
import type pg from 'pg'
import { call, postFrom } from './client.js'
import type { Member } from './fleet.js'
import { startLoad } from './load.js'
import type { LoadFigures } from './load.js'

/** One line of the report. */
export interface CheckResult {
  readonly id: string
  readonly name: string
  readonly status: 'PASS' | 'FAIL' | 'SKIP'
  /** The measured figure(s), in words. */
  readonly figure: string
}

/** What every check reads: where the balancer and each instance answer, tokens, the database. */
export interface CheckContext {
  /** The balancer's URL. */
  readonly lb: string
  /** Each web instance's own URL (for checks that must address one instance). */
  readonly instances: readonly string[]
  readonly adminToken: string
  readonly aliceToken: string
  /** The primary: products and their stock. */
  readonly db: pg.Pool
  /** Where orders and e-mails live: the primary, or each order shard (the example shards them by customer). */
  readonly orderDbs: readonly pg.Pool[]
  readonly schema: string
  readonly workers: readonly Member[]
  readonly reduced: boolean
}

const ok = (pass: boolean): 'PASS' | 'FAIL' => (pass ? 'PASS' : 'FAIL')

/** 1. A token issued through the balancer works on every instance; log out everywhere on one holds on all. */
export async function checkSessions(ctx: CheckContext, login: () => Promise<string>): Promise<CheckResult> {
  const name = 'token from one instance valid on all; log out everywhere enforced on all'
  const token = await login()
  const statuses = await Promise.all(
    ctx.instances.map(async (url) => (await call(`${url}/me`, { token })).status),
  )
  const accepted = statuses.filter((status) => status === 200).length
  const first = ctx.instances[0]!
  const logout = await call(`${first}/logout-everywhere`, { method: 'POST', token })
  if (logout.status === 404)
    return {
      id: '1',
      name,
      status: accepted === ctx.instances.length ? 'SKIP' : 'FAIL',
      figure: `token accepted by ${accepted}/${ctx.instances.length} instances; log out everywhere not checked: the app has no POST /logout-everywhere yet`,
    }
  if (logout.status >= 300)
    return { id: '1', name, status: 'FAIL', figure: `POST /logout-everywhere answered ${logout.status}` }
  // the stated maximum delay is the session package's revocationSync (2 s) while Redis answers
  const bound = 2000
  const started = Date.now()
  const delays = await Promise.all(
    ctx.instances.map(async (url) => {
      for (;;) {
        const status = (await call(`${url}/me`, { token })).status
        if (status === 401) return Date.now() - started
        if (Date.now() - started > 3 * bound) return Infinity
        await sleep(10)
      }
    }),
  )
  const worst = Math.max(...delays)
  return {
    id: '1',
    name,
    status: ok(accepted === ctx.instances.length && worst <= bound),
    figure: `token accepted by ${accepted}/${ctx.instances.length} instances; after log out everywhere on one, refused by all within ${worst} ms (stated bound ${bound} ms)`,
  }
}

/** 2. A product updated through one instance: how long the others still served the old value. */
export async function checkStale(ctx: CheckContext, productId: number): Promise<CheckResult> {
  const bound = 1000
  const rounds = ctx.reduced ? 3 : 10
  let worst = 0
  let staleReads = 0
  let reads = 0
  for (let round = 0; round < rounds; round++) {
    // every instance holds the product in its L1
    for (const url of ctx.instances) await call(`${url}/products/${productId}`)
    const writer = ctx.instances[round % ctx.instances.length]!
    const name = `v${round}-${Date.now()}`
    const patch = await call(`${writer}/products/${productId}`, {
      method: 'PATCH',
      token: ctx.adminToken,
      body: { name },
    })
    if (patch.status !== 200)
      return {
        id: '2',
        name: 'updates never served stale',
        status: 'FAIL',
        figure: `PATCH answered ${patch.status}`,
      }
    const acked = Date.now()
    const others = ctx.instances.filter((url) => url !== writer)
    // until each other instance serves the new value: when did its last stale answer arrive (0: none)
    const windows = await Promise.all(
      others.map(async (url) => {
        let lastStale = 0
        for (;;) {
          const answer = await call<{ name?: string }>(`${url}/products/${productId}`)
          reads++
          if (answer.body.name === name) return lastStale
          staleReads++
          lastStale = Date.now() - acked
          if (lastStale > 30_000) return Infinity
          await sleep(2)
        }
      }),
    )
    worst = Math.max(worst, ...windows)
  }
  return {
    id: '2',
    name: 'a product updated through one instance is never served stale beyond the bound',
    status: ok(worst <= bound),
    figure: `${rounds} updates, the other instances read until they served the new value: ${staleReads} stale answers of ${reads} reads, the last one ${worst} ms after the update answered (bound ${bound} ms; the cache TTL, 30 s, bounds even a lost invalidation)`,
  }
}

/** The database loads of products, summed over the instances (each instance's /admin/stats). */
async function productLoads(ctx: CheckContext): Promise<number> {
  let sum = 0
  for (const url of ctx.instances) {
    const answer = await call<{ productLoads: number }>(`${url}/admin/stats`, { token: ctx.adminToken })
    if (answer.status !== 200) throw new Error(`${url}/admin/stats answered ${answer.status}`)
    sum += answer.body.productLoads
  }
  return sum
}

/** 3. 300 concurrent requests for one uncached product, spread evenly over the instances: one query. */
export async function checkStampede(ctx: CheckContext, productId: number): Promise<CheckResult> {
  // an update drops the product from every instance and from Redis: the next read is cold everywhere
  const patch = await call(`${ctx.lb}/products/${productId}`, {
    method: 'PATCH',
    token: ctx.adminToken,
    body: {},
  })
  if (patch.status !== 200)
    return { id: '3', name: 'stampede', status: 'FAIL', figure: `PATCH answered ${patch.status}` }
  const before = await productLoads(ctx)
  const answers = await Promise.all(
    Array.from({ length: 300 }, (_, i) =>
      call(`${ctx.instances[i % ctx.instances.length]!}/products/${productId}`),
    ),
  )
  const after = await productLoads(ctx)
  const good = answers.filter((answer) => answer.status === 200).length
  return {
    id: '3',
    name: '300 concurrent requests for one uncached product over the instances cause one DB query',
    status: ok(after - before === 1 && good === 300),
    figure: `${after - before} database load(s) for 300 requests (${300 / ctx.instances.length} per instance), ${good}/300 answered 200`,
  }
}

/** 4. The login limit holds fleet-wide: every instance together lets through at most limit + tolerance. */
export async function checkRateLimit(ctx: CheckContext, limitPerMinute: number): Promise<CheckResult> {
  // a source address of its own (127.x.y.z): a key no other request of this run shares
  const source = `127.${1 + Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`
  const attempts = 3 * limitPerMinute * (ctx.reduced ? 1 : 2)
  const started = Date.now()
  // one login in flight per instance: the login hashes the password synchronously, and many at once on
  // one instance would hold its event loop past the limiter's own Redis timeout (then its failure policy
  // decides, not the shared count this check is about)
  const statuses: number[] = []
  for (let round = 0; statuses.length < attempts; round++)
    statuses.push(
      ...(await Promise.all(
        ctx.instances.map((url) =>
          postFrom(source, `${url}/login`, { email: 'alice@example.com', password: 'not her password' }),
        ),
      )),
    )
  const elapsedMs = Date.now() - started
  const allowed = statuses.filter((status) => status !== 429 && status !== 0).length
  const refused = statuses.filter((status) => status === 429).length
  const others = statuses.filter((status) => status !== 429 && status !== 401).length
  // GCRA with burst = limit: an idle key takes `limit` at once, then one more every period/limit
  const tolerance = Math.ceil((elapsedMs / 60_000) * limitPerMinute)
  return {
    id: '4',
    name: 'rate limits hold fleet-wide (login limit, one client over every instance)',
    status: ok(allowed >= limitPerMinute && allowed <= limitPerMinute + tolerance && others === 0),
    figure: `${allowed} let through (401: wrong password), ${refused} refused (429), ${others} other answers, of ${statuses.length} logins spread over ${ctx.instances.length} instances in ${elapsedMs} ms; limit ${limitPerMinute}/min + GCRA tolerance ${tolerance} (one more every ${60_000 / limitPerMinute} ms); per-process limits would have let ${ctx.instances.length * limitPerMinute} through`,
  }
}

/** Which worker fulfilled each order, from the workers' "order fulfilled" log lines. */
export function fulfilmentsByWorker(workers: readonly Member[]): Map<number, string[]> {
  const byOrder = new Map<number, string[]>()
  for (const worker of workers)
    for (const line of worker.lines) {
      if (!line.includes('order fulfilled')) continue
      const { orderId } = JSON.parse(line) as { orderId?: number }
      if (typeof orderId !== 'number') continue
      byOrder.set(orderId, [...(byOrder.get(orderId) ?? []), worker.name])
    }
  return byOrder
}

/** A query run on every database that holds orders, its rows concatenated. */
export async function onOrderDbs<Row extends pg.QueryResultRow>(
  ctx: CheckContext,
  sql: string,
  values: unknown[],
): Promise<Row[]> {
  const results = await Promise.all(ctx.orderDbs.map((db) => db.query<Row>(sql, values)))
  return results.flatMap((result) => result.rows)
}

/** Waits until every order is fulfilled in the database (or `timeoutMs`); the ones that are not. */
export async function waitFulfilled(
  ctx: CheckContext,
  ids: readonly number[],
  timeoutMs = 60_000,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const rows = await onOrderDbs<{ id: number }>(
      ctx,
      `SELECT id FROM ${ctx.schema}.orders WHERE id = ANY($1::int[]) AND status <> 'fulfilled'`,
      [ids],
    )
    if (rows.length === 0 || Date.now() > deadline) return rows.map((row) => row.id)
    await sleep(250)
  }
}

/** 5. Orders placed through the balancer are spread over both workers and each is processed once. */
export async function checkOrders(ctx: CheckContext, productId: number): Promise<CheckResult> {
  const count = ctx.reduced ? 40 : 100
  const tokens = [ctx.aliceToken, ctx.adminToken]
  const answers = await Promise.all(
    Array.from({ length: count }, (_, i) =>
      call<{ orderId: number }>(`${ctx.lb}/orders`, {
        method: 'POST',
        token: tokens[i % tokens.length]!,
        body: { productId, quantity: 1 },
      }),
    ),
  )
  const ids = answers.filter((answer) => answer.status === 201).map((answer) => answer.body.orderId)
  const pending = await waitFulfilled(ctx, ids)
  await sleep(500) // the log line follows the commit
  const byOrder = fulfilmentsByWorker(ctx.workers)
  const perWorker: Record<string, number> = Object.fromEntries(ctx.workers.map((worker) => [worker.name, 0]))
  let twice = 0
  let unseen = 0
  for (const id of ids) {
    const by = byOrder.get(id) ?? []
    if (by.length > 1) twice++
    if (by.length === 0) unseen++
    for (const worker of by) perWorker[worker] = (perWorker[worker] ?? 0) + 1
  }
  const counts = await onOrderDbs<{ n: string }>(
    ctx,
    `SELECT count(*) AS n FROM ${ctx.schema}.emails WHERE order_id = ANY($1::int[])`,
    [ids],
  )
  const emails = counts.reduce((sum, row) => sum + Number(row.n), 0)
  const spread = Object.values(perWorker).every((n) => n > 0)
  return {
    id: '5',
    name: 'orders spread across both workers, each processed exactly once',
    status: ok(
      ids.length === count &&
        pending.length === 0 &&
        twice === 0 &&
        unseen === 0 &&
        emails === count &&
        spread,
    ),
    figure: `${ids.length}/${count} acknowledged, ${count - pending.length} fulfilled; per worker ${Object.entries(
      perWorker,
    )
      .map(([worker, n]) => `${worker} ${n}`)
      .join(', ')}; fulfilled twice ${twice}, e-mails ${emails}`,
  }
}

/** 7. Throughput and p99 of the fleet behind the balancer against one instance alone. */
export async function checkThroughput(ctx: CheckContext): Promise<CheckResult> {
  const seconds = ctx.reduced ? 3 : 10
  const run = (url: string): Promise<LoadFigures> =>
    startLoad({ url, paths: ['/products/1', '/products/4', '/products'], connections: 32, seconds }).done
  const one = await run(ctx.instances[0]!)
  const fleet = await run(ctx.lb)
  const clean = (figures: LoadFigures): boolean =>
    figures.status5xx === 0 && figures.errors === 0 && figures.requests > 0
  const describe = (figures: LoadFigures): string =>
    `${Math.round(figures.rps)} req/s, p99 ${figures.p99} ms (${figures.requests} requests, ${figures.status5xx} 5xx, ${figures.errors} errors)`
  return {
    id: '7',
    name: 'throughput and p99: the fleet behind HAProxy vs one instance (2 cores bound both)',
    status: ok(clean(one) && clean(fleet)),
    figure: `one instance ${describe(one)}; fleet ${describe(fleet)}; ${seconds} s each, 32 connections, loopback — 2 cores run all of it, so the ratio shows the cost of the balancer, not the capacity of 3 machines`,
  }
}

import { setTimeout as sleep } from 'node:timers/promises'
import type { CheckContext, CheckResult } from './checks.js'
import { fulfilmentsByWorker, onOrderDbs, waitFulfilled } from './checks.js'
import { startLoad, startOrders } from './load.js'

/** The read paths the background load cycles over: two cached products and the uncached list (a replica read). */
export const READ_PATHS = ['/products/1', '/products', '/products/7'] as const

/**
 * Runs `fault` while autocannon reads through the balancer and orders are placed at a steady pace,
 * then waits until every acknowledged order is fulfilled. Passes when no acknowledged order is
 * lost and, with `zero5xx`, no client saw a 5xx or a dropped connection.
 */
export async function underLoad(
  ctx: CheckContext,
  options: { id: string; name: string; productId: number; zero5xx: boolean },
  fault: () => Promise<string>,
): Promise<CheckResult> {
  const load = startLoad({ url: ctx.lb, paths: READ_PATHS, connections: 8, seconds: 600 })
  const orders = startOrders({
    url: ctx.lb,
    tokens: [ctx.aliceToken, ctx.adminToken],
    productId: options.productId,
    perSecond: 6,
  })
  let detail: string
  try {
    await sleep(1000)
    detail = await fault()
    await sleep(1000)
  } finally {
    // also when the fault throws: nothing of this load may outlive it
    await Promise.all([orders.stop(), load.stop()]).catch(() => undefined)
  }
  const reads = await load.stop()
  const placed = await orders.stop()
  const lost = await waitFulfilled(ctx, placed.acknowledged, 60_000)
  const failures = reads.status5xx + reads.errors + placed.status5xx + (placed.statuses['0'] ?? 0)
  const pass = lost.length === 0 && placed.acknowledged.length > 0 && (!options.zero5xx || failures === 0)
  const statuses = Object.entries(placed.statuses)
    .map(([status, n]) => `${status}×${n}`)
    .join(' ')
  return {
    id: options.id,
    name: options.name,
    status: pass ? 'PASS' : 'FAIL',
    figure: `${detail}; reads ${reads.requests} (${reads.status5xx} 5xx, ${reads.errors} errors, p99 ${reads.p99} ms, slowest ${reads.max} ms); orders ${placed.acknowledged.length} acknowledged, ${lost.length} lost (answers ${statuses})`,
  }
}

/** After the faults: the stock taken equals the orders fulfilled (none twice), from the database. */
export async function checkExactlyOnce(
  ctx: CheckContext,
  productId: number,
  initialStock: number,
): Promise<CheckResult> {
  const { rows } = await ctx.db.query<{ stock: number }>(
    `SELECT stock FROM ${ctx.schema}.products WHERE id = $1`,
    [productId],
  )
  const taken = initialStock - (rows[0]?.stock ?? initialStock)
  const counts = await onOrderDbs<{ n: string }>(
    ctx,
    `SELECT count(*) AS n FROM ${ctx.schema}.orders WHERE product_id = $1 AND status = 'fulfilled'`,
    [productId],
  )
  const fulfilled = counts.reduce((sum, row) => sum + Number(row.n), 0)
  const twice = [...fulfilmentsByWorker(ctx.workers).values()].filter((by) => by.length > 1).length
  return {
    id: '6*',
    name: 'under every fault, each order processed exactly once',
    status: taken === fulfilled && twice === 0 ? 'PASS' : 'FAIL',
    figure: `stock taken ${taken}, orders fulfilled ${fulfilled} (over ${ctx.orderDbs.length} order database${ctx.orderDbs.length === 1 ? '' : 's'}); fulfilled twice (worker logs) ${twice}`,
  }
}

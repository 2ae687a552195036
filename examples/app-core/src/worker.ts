import { hostname } from 'node:os'
import { NonRetryableError } from '@scalekit/queue'
import { runWithMessageContext } from '@scalekit/observability'
import { confirmationSubject, OrderPlaced } from './catalogue.js'
import type { Services } from './services.js'

/**
 * The order worker: takes stock for the order (main database) and "sends" the confirmation e-mail
 * (a stub that records what it would send, on the order's shard). A failure is retried through the
 * queue's backoff; an order that cannot be fulfilled (unknown, or out of stock) is dead-lettered at once.
 *
 * The stock and the order may live in two databases, and there is no transaction across them: the
 * stock is taken once per order (a `stock_takes` row in the same transaction), so a retry after a
 * later step failed does not take it again, and the order's status changes only from `placed`.
 */
export function startOrderWorker(services: Services): void {
  const { db, orders, queue, config } = services
  const logger = services.logger.child({ worker: 'order-fulfilment' })
  const workerId = process.env['WORKER_ID'] ?? `${hostname()}:${process.pid}`
  const s = config.schema
  queue.consume(
    OrderPlaced,
    (message, ctx) =>
      runWithMessageContext(ctx, async () => {
        const { orderId, customerId } = message
        const shard = orders.of(customerId).db
        // Read with the publisher's token: a replica that has replayed the order, or the primary.
        const order = await shard.withConsistency(message.consistency, async () => {
          const { rows } = await shard.query<{
            product_id: number
            quantity: number
            status: string
            email_failures: number
          }>(
            `SELECT product_id, quantity, status, email_failures FROM ${s}.orders WHERE id = $1 AND user_id = $2`,
            [orderId, customerId],
          )
          return rows[0]
        })
        if (order === undefined) throw new NonRetryableError(`order ${orderId} not found`)
        if (order.status !== 'placed') return // a redelivery: done already

        let recipient: string
        try {
          recipient = await db.transaction(async (tx) => {
            const first = await tx.query(
              `INSERT INTO ${s}.stock_takes (order_id) VALUES ($1) ON CONFLICT DO NOTHING`,
              [orderId],
            )
            if (first.rowCount === 1) {
              const taken = await tx.query(
                `UPDATE ${s}.products SET stock = stock - $2 WHERE id = $1 AND stock >= $2`,
                [order.product_id, order.quantity],
              )
              // thrown in the transaction: it rolls back, and the queue dead-letters the order at once
              if (taken.rowCount === 0) throw new NonRetryableError(`order ${orderId}: out of stock`)
            }
            const { rows } = await tx.query<{ email: string }>(`SELECT email FROM ${s}.users WHERE id = $1`, [
              customerId,
            ])
            if (rows[0] === undefined)
              throw new NonRetryableError(`order ${orderId}: customer ${customerId} not found`)
            return rows[0].email
          })
        } catch (error) {
          if (error instanceof NonRetryableError)
            await shard.query(
              `UPDATE ${s}.orders SET status = 'refused' WHERE id = $1 AND user_id = $2 AND status = 'placed'`,
              [orderId, customerId],
            )
          throw error
        }

        // The e-mail provider (a stub): an order placed with simulate.emailFailures fails that many attempts.
        if (ctx.attempt <= order.email_failures) {
          logger.warn({ orderId, attempt: ctx.attempt }, 'e-mail provider unavailable (simulated): retried')
          throw new Error(`e-mail provider unavailable (simulated, attempt ${ctx.attempt})`)
        }
        const subject = confirmationSubject(orderId)
        const fulfilled = await shard.transaction(async (tx) => {
          const done = await tx.query(
            `UPDATE ${s}.orders SET status = 'fulfilled', attempts = $3, fulfilled_by = $4
             WHERE id = $1 AND user_id = $2 AND status = 'placed'`,
            [orderId, customerId, ctx.attempt, workerId],
          )
          if (done.rowCount === 0) return false // another delivery got there first
          await tx.query(
            `INSERT INTO ${s}.emails (order_id, recipient, subject) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
            [orderId, recipient, subject],
          )
          return true
        })
        if (fulfilled)
          logger.info(
            { orderId, attempt: ctx.attempt, email: { to: recipient, subject } },
            'order fulfilled, e-mail recorded',
          )
      }),
    { group: 'fulfilment', concurrency: 4, attempts: 5, backoff: { initial: '200ms', max: '5s' } },
  )
}

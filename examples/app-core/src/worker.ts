import { NonRetryableError } from '@scalekit/queue'
import { runWithMessageContext } from '@scalekit/observability'
import { OrderPlaced } from './catalogue.js'
import type { Services } from './services.js'

/**
 * The order worker: takes stock for the order and "sends" the confirmation e-mail (a stub that
 * records what it would send). A failure is retried with backoff; an order that cannot be
 * fulfilled (unknown, or out of stock) is dead-lettered at once.
 */
export function startOrderWorker(services: Services): void {
  const { db, queue, config } = services
  const logger = services.logger.child({ worker: 'order-fulfilment' })
  const s = config.schema
  queue.consume(
    OrderPlaced,
    (message, ctx) =>
      runWithMessageContext(ctx, () =>
        db.withConsistency(message.consistency, async () => {
          const email = await db.transaction(async (tx) => {
            const { rows } = await tx.query<{
              product_id: number
              quantity: number
              email: string
              status: string
            }>(
              `SELECT o.product_id, o.quantity, o.status, u.email FROM ${s}.orders o
               JOIN ${s}.users u ON u.id = o.user_id WHERE o.id = $1 FOR UPDATE OF o`,
              [message.orderId],
            )
            const order = rows[0]
            if (order === undefined) throw new NonRetryableError(`order ${message.orderId} not found`)
            if (order.status !== 'placed') return undefined // a redelivery: done already
            const taken = await tx.query(
              `UPDATE ${s}.products SET stock = stock - $2 WHERE id = $1 AND stock >= $2`,
              [order.product_id, order.quantity],
            )
            if (taken.rowCount === 0) throw new NonRetryableError(`order ${message.orderId}: out of stock`)
            await tx.query(`UPDATE ${s}.orders SET status = 'fulfilled' WHERE id = $1`, [message.orderId])
            const subject = `Your order ${message.orderId} is on its way`
            await tx.query(
              `INSERT INTO ${s}.emails (order_id, recipient, subject) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
              [message.orderId, order.email, subject],
            )
            return { to: order.email, subject }
          })
          if (email !== undefined)
            logger.info({ orderId: message.orderId, email }, 'order fulfilled, e-mail recorded')
        }),
      ),
    { group: 'fulfilment', concurrency: 4, attempts: 5, backoff: { initial: '200ms', max: '5s' } },
  )
}

import { NonRetryableError } from '@scalekit/queue'
import { runWithMessageContext } from '@scalekit/observability'
import { OrderPlaced } from './catalogue.js'
import type { Services } from './services.js'

/** What one attempt did: fulfilled (the e-mail it recorded), found done already, or refused. */
type Outcome = { email: { to: string; subject: string } } | { done: true } | { refused: string }

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
          // The transaction returns why it could not fulfil the order rather than throwing it: it commits
          // nothing then, and the refusal is dead-lettered at once below (a retry would not help).
          const outcome = await db.transaction(async (tx): Promise<Outcome> => {
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
            if (order === undefined) return { refused: `order ${message.orderId} not found` }
            if (order.status !== 'placed') return { done: true } // a redelivery: done already
            const taken = await tx.query(
              `UPDATE ${s}.products SET stock = stock - $2 WHERE id = $1 AND stock >= $2`,
              [order.product_id, order.quantity],
            )
            if (taken.rowCount === 0) return { refused: `order ${message.orderId}: out of stock` }
            await tx.query(`UPDATE ${s}.orders SET status = 'fulfilled' WHERE id = $1`, [message.orderId])
            const subject = `Your order ${message.orderId} is on its way`
            await tx.query(
              `INSERT INTO ${s}.emails (order_id, recipient, subject) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
              [message.orderId, order.email, subject],
            )
            return { email: { to: order.email, subject } }
          })
          if ('refused' in outcome) throw new NonRetryableError(outcome.refused)
          if ('email' in outcome)
            logger.info(
              { orderId: message.orderId, email: outcome.email },
              'order fulfilled, e-mail recorded',
            )
        }),
      ),
    { group: 'fulfilment', concurrency: 4, attempts: 5, backoff: { initial: '200ms', max: '5s' } },
  )
}

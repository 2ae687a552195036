/**
 * Compile-time checks of the public types (run by `tsc` in `pnpm typecheck`; never executed).
 */
import { z } from 'zod'
import { createQueue, defineMessage } from '../../src/index'
import type { MessageContext, PayloadInput, PayloadOutput } from '../../src/index'

const OrderPlaced = defineMessage(
  'order.placed',
  z.object({ orderId: z.number(), at: z.string().transform((s) => new Date(s)) }),
)
const queue = createQueue({ url: 'memory:' })
const use = (..._values: unknown[]): void => undefined

export async function checks(): Promise<void> {
  await queue.publish(OrderPlaced, { orderId: 42, at: '2026-01-01' })
  // @ts-expect-error -- a payload of the wrong shape does not compile
  await queue.publish(OrderPlaced, { orderId: 'x', at: '2026-01-01' })
  // @ts-expect-error -- a missing field does not compile
  await queue.publish(OrderPlaced, { orderId: 1 })
  queue.consume(
    OrderPlaced,
    (order, ctx: MessageContext) => {
      // The handler gets the schema's output (after transforms).
      const at: Date = order.at
      const id: number = order.orderId
      use(at, id, ctx.signal, ctx.attempt)
    },
    { group: 'billing' },
  )
  // @ts-expect-error -- url is required: no transport is a default
  createQueue({})
  // @ts-expect-error -- and so are options
  createQueue()
  createQueue({ url: process.env.AMQP_URL, declare: { 'order.placed': ['billing'] } })
  // @ts-expect-error -- a group is required
  queue.consume(OrderPlaced, () => undefined, {})
  const input: PayloadInput<typeof OrderPlaced> = { orderId: 1, at: 'x' }
  const output: PayloadOutput<typeof OrderPlaced> = { orderId: 1, at: new Date() }
  use(input, output)
}

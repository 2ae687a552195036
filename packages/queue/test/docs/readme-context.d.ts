// Names the README's examples take as given (scripts/check-docs.ts compiles each block with these).
import type { DedupStore, Handler, MessageType, Queue } from '@scalekit/queue'

declare global {
  /** The app's own effect, in the quick start. */
  function sendReceipt(orderId: number): Promise<void>
  /** A queue created as in the quick start. */
  const queue: Queue
  /** The message type of the quick start. */
  const OrderPlaced: MessageType<{ orderId: number }>
  /** A handler of it. */
  const handler: Handler<{ orderId: number }>
  /** A user's own dedup store and what it needs. */
  const pool: unknown
  function createPgDedupStore(pool: unknown): DedupStore
}

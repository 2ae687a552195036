// Names the README's examples take as given (scripts/check-docs.ts compiles each block with these).
import type { Cache } from '@scalekit/cache'
import type { DbRouter } from '@scalekit/db-router'
import type { Metrics, ObservabilityLogger } from '@scalekit/observability'
import type { MessageType, Queue } from '@scalekit/queue'
import type { Express } from 'express'

declare global {
  /** The Express app of the quick start. */
  const app: Express
  /** Metrics and logger created as in the quick start. */
  const metrics: Metrics
  const logger: ObservabilityLogger
  /** The app's scalekit objects. */
  const cache: Cache
  const db: DbRouter
  const queue: Queue
  /** A message type and the app's own effect. */
  const OrderPlaced: MessageType<{ orderId: number }>
  function sendReceipt(orderId: number): Promise<void>
}

// Names the README's examples take as given (scripts/check-docs.ts compiles each block with these).
import type { DbRouter } from '@scalekit/db-router'
import type { ShardedRouter } from '@scalekit/db-router/shards'

declare global {
  /** A router created as in the quick start. */
  const db: DbRouter
  const id: number
  const n: string
  const orderId: number
  /** A queue client of the app's, and a message it consumed. */
  const queue: { publish(message: { orderId: number; token: string | undefined }): Promise<void> }
  const message: { token: string | undefined }
  /** A shard key (Shards section). */
  const tenantId: string
  /** A sharded router created as in the Shards section. */
  const sharded: ShardedRouter
}

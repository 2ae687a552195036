// Names the README's examples take as given (scripts/check-docs.ts compiles each block with these).
import type { Redis } from 'ioredis'

declare global {
  /** An ioredis client the app owns. */
  const redis: Redis
  /** The signed-in user's id. */
  const userId: string
  /** How many instances run behind the load balancer. */
  const INSTANCES: number
}

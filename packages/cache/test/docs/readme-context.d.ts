// Names the README's examples take as given (scripts/check-docs.ts compiles each block with these).
import type { Cache, Codec } from '@scalekit/cache'
import type { WriteBehindStore } from '@scalekit/cache/write-behind'
import type { Redis } from 'ioredis'

declare global {
  interface User {
    readonly id: string
    readonly name: string
  }
  interface Cart {
    readonly items: readonly string[]
  }
  /** The app's data access, in the quick starts. */
  const db: {
    findUser(id: string, options: { signal: AbortSignal }): Promise<User>
    upsertCart(key: string, cart: Cart): Promise<void>
    deleteCart(key: string): Promise<void>
  }
  const id: string
  const cart: Cart
  /** A cache created as in the quick start. */
  const cache: Cache
  /** An ioredis client the app owns. */
  const redis: Redis
  const oldKey: string
  /** A user's own codec and write-behind store, for the conformance suites. */
  const mySuperjsonCodec: Codec
  function createMyStore(): WriteBehindStore
}

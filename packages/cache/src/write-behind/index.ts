// @scalekit/cache/write-behind: write-behind queues on a cache, for the apps that need them.
export { createMemoryStore, MEMORY_DEAD_LETTER_LIMIT } from './memory-store'
export { writeBehindDefaults } from './options'
export type { QueuedOp, QueueRecord, StoredDeadLetter, WriteBehindStore } from './store'
export type {
  WriteBehindBackoff,
  WriteBehindDeadLetter,
  WriteBehindEntry,
  WriteBehindOptions,
  WriteBehindQueue,
} from './types'
export { createWriteBehind } from './write-behind'

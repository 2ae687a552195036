export { createWriteBehind } from './write-behind'
export { writeBehindDefaults } from './options'
export { MEMORY_DEAD_LETTER_LIMIT } from './memory-store'
export type {
  WriteBehind,
  WriteBehindBackoff,
  WriteBehindDeadLetter,
  WriteBehindDeps,
  WriteBehindEntry,
  WriteBehindOptions,
  WriteBehindQueue,
  WriteBehindRedis,
} from './types'

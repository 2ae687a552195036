import { describe, expect, it } from 'vitest'
import { dedupStoreConformance } from '../../src/conformance'
import { createMemoryDedupStore } from '../../src/index'

// One store for every test: the suite gives each test ids of its own, as a shared backend needs.
const store = createMemoryDedupStore()
dedupStoreConformance('memory', () => store, { describe, it, expect })

// @scalekit/cache/conformance: the contracts of the cache's extension points as test suites, for
// whoever writes a store or a codec of their own. No test runner is imported: pass yours.
export { codecConformance } from './codec'
export type { Expectation, TestApi } from './runner'
export { type QueueFactory, writeBehindConformance } from './write-behind'

// Type tests, checked by `pnpm --filter @scalekit/cache typecheck` (this file is never run): what
// `getOrSet` infers under `strict`. Issue 13, item 1: a factory taking `({ signal })` made the result
// `unknown` (the context's `stale: T` made TypeScript fix `T` before it read the return type).
import type { Cache, Factory } from '../../src/index'

/** True when A and B are the same type (not merely assignable either way): the usual deferred-conditional comparison. */
// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- X exists to defer both conditionals
type Equal<A, B> = (<X>() => X extends A ? 1 : 2) extends <X>() => X extends B ? 1 : 2 ? true : false
/** `exactly<E>()(value)` compiles only when `value`'s type is exactly `E` (else a second argument of type never is missing). */
function exactly<Expected>() {
  return <Actual>(_actual: Actual, ..._proof: Equal<Actual, Expected> extends true ? [] : [never]): void =>
    undefined
}

interface User {
  readonly id: string
  readonly name: string
}
declare const cache: Cache
declare function loadUser(id: string, signal: AbortSignal): Promise<User>
declare function loadUserSync(id: string): User

export async function inference(): Promise<void> {
  // The README quick start's shape: the context destructured, an async factory.
  const a = await cache.getOrSet('user:1', async ({ signal }) => loadUser('1', signal))
  exactly<User>()(a)
  const b = await cache.getOrSet('user:1', ({ signal }) => loadUser('1', signal))
  exactly<User>()(b)
  const c = await cache.getOrSet('user:1', (context) => loadUser('1', context.signal))
  exactly<User>()(c)
  const d = await cache.getOrSet('user:1', () => loadUserSync('1'))
  exactly<User>()(d)
  const e = await cache.getOrSet('n', () => 42, { ttl: '1m' })
  exactly<number>()(e)
  // Naming T types `stale` too.
  const f = await cache.getOrSet<User>('user:1', async ({ signal, stale }) => {
    exactly<User | undefined>()(stale)
    return stale ?? loadUser('1', signal)
  })
  exactly<User>()(f)
  // A factory declared on its own, typed with the exported Factory type.
  const factory: Factory<User> = ({ signal }) => loadUser('1', signal)
  const g = await cache.getOrSet('user:1', factory)
  exactly<User>()(g)
  // A factory returning the wrong type for a named T is refused.
  // @ts-expect-error: a string is not a User
  await cache.getOrSet<User>('user:1', () => 'not a user')
}

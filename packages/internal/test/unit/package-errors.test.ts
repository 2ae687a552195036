import { describe, expect, it } from 'vitest'
import * as cache from '../../../cache/src/index'
import * as dbRouter from '../../../db-router/src/index'
import * as dbRouterShards from '../../../db-router/src/shards/index'
import * as observability from '../../../observability/src/index'
import * as queue from '../../../queue/src/index'
import * as ratelimit from '../../../ratelimit/src/index'
import * as session from '../../../session/src/index'
import { CodedError } from '../../src/index'

/**
 * One test of every package's errors (the conventions in CONTRIBUTING.md): the `errors` map is keyed
 * by code and lists classes the package exports by name (from its root entry, or from the subpath of
 * the feature they belong to: `module` is every entry's exports), all derived from its base; each
 * package has the options and argument errors (and the closed error once it has `close()`).
 * A subpath that exports error classes re-exports the one `errors` map, never a map of its own.
 */
const packages = [
  {
    name: '@scalekit/cache',
    prefix: 'ERR_CACHE',
    module: cache as Record<string, unknown>,
    errors: cache.errors,
    closes: true,
  },
  {
    name: '@scalekit/db-router',
    prefix: 'ERR_DB',
    module: { ...dbRouterShards, ...dbRouter } as Record<string, unknown>,
    subpaths: [dbRouterShards as Record<string, unknown>],
    errors: dbRouter.errors,
    closes: true,
  },
  {
    name: '@scalekit/queue',
    prefix: 'ERR_QUEUE',
    module: queue as Record<string, unknown>,
    errors: queue.errors,
    closes: true,
  },
  {
    name: '@scalekit/session',
    prefix: 'ERR_SESSION',
    module: session as Record<string, unknown>,
    errors: session.errors,
    closes: true,
  },
  {
    name: '@scalekit/observability',
    prefix: 'ERR_OBSERVABILITY',
    module: observability as Record<string, unknown>,
    errors: observability.errors,
    closes: false,
  },
  {
    name: '@scalekit/ratelimit',
    prefix: 'ERR_RATELIMIT',
    module: ratelimit as Record<string, unknown>,
    errors: ratelimit.errors,
    closes: true,
  },
]

describe.each(packages)('$name errors', ({ prefix, module, errors, closes, ...rest }) => {
  const classes = Object.entries(errors as Readonly<Record<string, typeof CodedError>>)
  const base = errors[prefix as keyof typeof errors] as unknown as typeof CodedError

  it('key the errors map by code, base first, each class exported by its name', () => {
    expect(classes[0]?.[0]).toBe(prefix)
    for (const [code, ErrorClass] of classes) {
      expect(ErrorClass.code).toBe(code)
      expect(code.startsWith(prefix)).toBe(true)
      expect(module[ErrorClass.name]).toBe(ErrorClass)
      expect(ErrorClass === base || ErrorClass.prototype instanceof base).toBe(true)
    }
  })

  const subpaths: Record<string, unknown>[] = ('subpaths' in rest ? rest.subpaths : undefined) ?? []
  it.runIf(subpaths.length > 0)('share the one errors map with the subpaths that export errors', () => {
    for (const subpath of subpaths) {
      const maps = Object.entries(subpath).filter(([name]) => /errors$/i.test(name))
      expect(maps).toEqual([['errors', errors]])
    }
  })

  it('have the options, argument and closed errors of the conventions', () => {
    const codes = classes.map(([code]) => code)
    expect(codes).toContain(`${prefix}_INVALID_OPTIONS`)
    expect(codes).toContain(`${prefix}_INVALID_ARGUMENT`)
    if (closes) expect(codes).toContain(`${prefix}_CLOSED`)
  })

  it.each(classes)('%s carries its code, name and cause', (code, ErrorClass) => {
    const cause = new Error('low level')
    const error =
      ErrorClass.length <= 2
        ? new ErrorClass('what went wrong', { cause })
        : new ErrorClass('what went wrong')
    expect(error).toBeInstanceOf(base)
    expect(error).toBeInstanceOf(Error)
    expect(error.code).toBe(code)
    expect(error.name).toBe(ErrorClass.name)
    expect(error.message).toBe('what went wrong')
    if (ErrorClass.length <= 2) expect(error.cause).toBe(cause)
  })
})

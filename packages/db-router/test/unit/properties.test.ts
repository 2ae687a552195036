import fc from 'fast-check'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { createDbRouter, DbRouterArgumentError, DbRouterError, DbRouterOptionsError } from '../../src/index'
import type { DbRouterOptions } from '../../src/index'

// Issue 12, "done means": options and query arguments of every type and range either work or are
// refused with the package's coded error — never a raw TypeError, a hang, a crash or a breaker trip.

/** Durations around and past what Node's timers hold (2³¹−1 ms), as numbers and strings. */
const duration = fc.oneof(
  fc.integer({ min: -10, max: 2 ** 32 }),
  fc.constantFrom(2 ** 31 - 1, 2 ** 31, 3e9, 1e20, Number.NaN, Infinity, -0, 0.5),
  fc
    .tuple(fc.integer({ min: 0, max: 10_000_000 }), fc.constantFrom('ms', 's', 'm', 'h', 'd', '', 'x'))
    .map(([n, unit]) => `${n}${unit}`),
  fc.constantFrom('720h', '25d', '24d', '5 minutes', ''),
)
/** Anything, weighted towards the values people mistake for one another. */
const odd = fc.oneof(
  fc.anything(),
  duration,
  fc.constantFrom(
    'no',
    'yes',
    'true',
    0,
    1,
    -1,
    null,
    undefined,
    [],
    {},
    NaN,
    'random',
    '1.ffffffffffffffff',
  ),
)
/** Mostly a valid value, sometimes an odd one: valid combinations are reached, and every check is met. */
const mostly = (valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: 12, arbitrary: valid }, { weight: 1, arbitrary: odd })
const validUrl = fc.constantFrom('postgres://postgres@127.0.0.1:1/none', 'postgresql://u:p@[::1]:1/db')
const url = fc.oneof(
  { weight: 4, arbitrary: validUrl },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      '',
      'localhost',
      'not a url',
      'mysql://root@db/app',
      'http://nope',
      '/run/pg db',
    ),
  },
)
const source = fc.oneof(
  { weight: 6, arbitrary: url },
  { weight: 1, arbitrary: odd },
  { weight: 1, arbitrary: fc.record({ connectionString: url }) },
  {
    weight: 1,
    arbitrary: fc.record(
      {
        source: url,
        weight: mostly(fc.double({ min: 0.1, max: 10, noNaN: true })),
        name: mostly(fc.constantFrom('a', 'b.c', 'r-1')),
      },
      { requiredKeys: ['source'] },
    ),
  },
)
const validDuration = fc.oneof(
  fc.integer({ min: 1, max: 2 ** 31 - 1 }),
  fc.integer({ min: 1, max: 1_000_000 }).map((n) => `${n}ms`),
  fc.constantFrom('5s', '1m', '1h', '24d'),
)
const durationOrOdd = fc.oneof(
  { weight: 12, arbitrary: validDuration },
  { weight: 1, arbitrary: duration },
  { weight: 1, arbitrary: odd },
)
function group(members: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<unknown> {
  return fc.oneof(
    { weight: 8, arbitrary: fc.record(members, { requiredKeys: [] }) },
    { weight: 1, arbitrary: odd },
  )
}
const count = mostly(fc.integer({ min: 1, max: 10 }))
const options = fc
  .record(
    {
      primary: source,
      replicas: fc.oneof(
        { weight: 6, arbitrary: fc.array(source, { maxLength: 3 }) },
        { weight: 1, arbitrary: odd },
      ),
      balance: mostly(fc.constantFrom('latency', 'random', 'round-robin', 'weighted', 'least-outstanding')),
      consistency: group({
        maxWait: durationOrOdd,
        pollInterval: durationOrOdd,
        secret: mostly(
          fc.oneof(fc.string({ minLength: 28, maxLength: 40 }), fc.array(fc.string({ minLength: 32 }))),
        ),
      }),
      health: group({
        interval: durationOrOdd,
        timeout: durationOrOdd,
        fall: count,
        rise: count,
        maxLagBytes: mostly(fc.double({ min: 1, max: 1e12, noNaN: true })),
        maxLagSeconds: mostly(fc.double({ min: 0.001, max: 1e9, noNaN: true })),
        readmitRatio: mostly(fc.double({ min: 0.01, max: 1, noNaN: true })),
      }),
      fallback: group({
        toPrimary: mostly(fc.boolean()),
        maxPerSecond: mostly(fc.double({ min: 0, max: 1e6, noNaN: true })),
      }),
      timeouts: group({ connect: durationOrOdd, query: durationOrOdd }),
      breaker: group({
        errorThresholdPercentage: mostly(fc.double({ min: 1, max: 100, noNaN: true })),
        resetTimeout: durationOrOdd,
        volumeThreshold: count,
      }),
      classification: group({
        readFunctions: mostly(fc.array(fc.string())),
        writeFunctions: mostly(fc.array(fc.string())),
        lookupFunctions: mostly(fc.boolean()),
        cacheSize: count,
      }),
      maxReadAttempts: count,
      logger: mostly(fc.oneof(fc.constant(console), fc.record({ warn: fc.func(fc.constant(undefined)) }))),
    },
    { requiredKeys: [] },
  )
  .chain((o) =>
    fc.oneof(
      { weight: 9, arbitrary: fc.constant(o) },
      { weight: 1, arbitrary: odd.map((v) => ({ ...o, tyop: v })) },
    ),
  )

describe('property: options', () => {
  it('construction succeeds (and closes) or throws DbRouterOptionsError naming an option', async () => {
    let built = 0
    await fc.assert(
      fc.asyncProperty(options, async (given) => {
        let db
        try {
          db = createDbRouter(given as DbRouterOptions)
        } catch (error) {
          expect(error).toBeInstanceOf(DbRouterOptionsError)
          expect((error as Error).message).not.toMatch(/is not a function|Cannot read|undefined \(reading/)
          return
        }
        built += 1
        await db.close({ timeout: 100 })
      }),
      { numRuns: 400 },
    )
    // Not only refusals: the generator reaches valid combinations too.
    expect(built).toBeGreaterThan(0)
  })
})

/** Call arguments a caller may get wrong, each refused before anything is sent. */
const cyclic = (): unknown => {
  const o: Record<string, unknown> = {}
  o.self = o
  return o
}
const selfArray = (): unknown => {
  const a: unknown[] = []
  a.push(a)
  return a
}
const badValue = fc.oneof(
  fc.func(fc.anything()),
  fc.constant(Symbol('s')),
  fc.constant(null).map(cyclic),
  fc.constant(null).map(selfArray),
  fc.bigInt().map((b) => ({ big: b })),
  fc.constant(null).map(() => [1, [2, () => 3]]),
)
const goodValue = fc.oneof(
  fc.string(),
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.date(),
  fc.bigInt(),
)
const badCall: fc.Arbitrary<[unknown, unknown, unknown]> = fc.oneof(
  // Not SQL.
  fc.tuple(
    fc.oneof(
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.object(),
      fc.array(fc.string()),
    ),
    fc.constant(undefined),
    fc.constant(undefined),
  ),
  // Values that are not an array.
  fc.tuple(
    fc.constant('SELECT $1'),
    fc.oneof(fc.integer(), fc.string(), fc.boolean()),
    fc.constant(undefined),
  ),
  // A value pg cannot send, among good ones.
  fc.tuple(
    fc.constant('SELECT $1, $2'),
    fc.tuple(goodValue, badValue).map(([a, b]) => [a, b]),
    fc.constant(undefined),
  ),
  fc.tuple(
    fc.tuple(goodValue, badValue).map(([a, b]) => ({ text: 'SELECT $1, $2', values: [b, a] })),
    fc.constant(undefined),
    fc.constant(undefined),
  ),
  // A per-call timeout Node's timers cannot hold, or not a number.
  fc.tuple(
    fc
      .constantFrom(0, -1, 2 ** 31, 1e20, Number.NaN, Infinity, '5s')
      .map((t) => ({ text: 'SELECT 1', query_timeout: t })),
    fc.constant(undefined),
    fc.constant(undefined),
  ),
  // Options that are not an object, a role that does not exist, a callback.
  fc.tuple(fc.constant('SELECT 1'), fc.constant([]), fc.oneof(fc.integer(), fc.string(), fc.constant([1]))),
  fc.tuple(
    fc.constant('SELECT 1'),
    fc.constant([]),
    fc.string().map((role) => ({ role: `x${role}` })),
  ),
  fc.tuple(fc.constant('SELECT 1'), fc.func(fc.anything()), fc.constant(undefined)),
)

describe('property: query arguments', () => {
  const pool = new pg.Pool({ connectionString: 'postgres://postgres@127.0.0.1:1/none' })
  const db = createDbRouter({ primary: pool, breaker: { volumeThreshold: 1 } })

  afterAll(async () => {
    await db.close()
    await pool.end()
  })

  it('a bad argument rejects with ERR_DB_INVALID_ARGUMENT before anything is sent: no connection, no breaker trip', async () => {
    await fc.assert(
      fc.asyncProperty(badCall, async ([first, second, third]) => {
        let call: Promise<unknown>
        try {
          call = (db.query as (a: unknown, b: unknown, c: unknown) => Promise<unknown>)(first, second, third)
        } catch (error) {
          throw new Error(`db.query threw synchronously: ${String(error)}`)
        }
        const error = await call.then(
          () => undefined,
          (e: unknown) => e,
        )
        expect(error).toBeInstanceOf(DbRouterArgumentError)
        expect(error).toBeInstanceOf(DbRouterError)
      }),
      { numRuns: 400 },
    )
    expect(pool.totalCount).toBe(0)
    expect(db.health().primary.breakerOpen).toBe(false)
  })
})

/**
 * Profiling aid: db-router's own client CPU per read, over pools that answer at once (no network,
 * no PostgreSQL), 20 reads in flight, `SELECT 1` / `SELECT $1::int` alternating. What is left is
 * the router's JavaScript and its garbage. Not part of the suite.
 *
 *   npx tsx src/db-router/instant.ts            # the workspace build of @scalekit/db-router
 *   SK_DBR_BEFORE=<dist/index.js> npx tsx src/db-router/instant.ts before
 *   node --trace-gc-nvp --import tsx src/db-router/instant.ts   # promoted bytes per scavenge
 *   npx tsx src/db-router/instant.ts current primary   # no replicas: every read on the primary (a shard's router)
 */
import { createDbRouter } from '@scalekit/db-router'
import type { Pool } from 'pg'

type Create = typeof createDbRouter

const which = process.argv[2] ?? 'current'
const create: Create =
  which === 'before'
    ? ((await import(process.env.SK_DBR_BEFORE ?? '')) as { createDbRouter: Create }).createDbRouter
    : createDbRouter

// Answers every statement, the health checks' included (a replica in recovery, caught up).
const result = {
  rows: [{ x: 1, in_recovery: true, replay: '0/100', receive: '0/100', lsn: '0/100' }],
  rowCount: 1,
}
type Callback = (error: Error | null, value?: unknown) => void

/** A pg.Pool stand-in answering at once, in both of pg's styles (callback and promise). */
function instantPool(): Pool {
  const client = {
    on: () => client,
    removeListener: () => client,
    release: () => undefined,
    query: (_text: unknown, values?: unknown, callback?: Callback) => {
      const cb = typeof values === 'function' ? (values as Callback) : callback
      if (cb === undefined) return Promise.resolve(result)
      queueMicrotask(() => {
        cb(null, result)
      })
      return undefined
    },
  }
  const pool = {
    totalCount: 0,
    on: () => pool,
    off: () => pool,
    end: () => Promise.resolve(),
    query: () => Promise.resolve(result),
    connect: (callback?: (error: undefined, c: typeof client, release: () => void) => void) => {
      if (callback === undefined) return Promise.resolve(client)
      queueMicrotask(() => {
        callback(undefined, client, () => undefined)
      })
      return undefined
    },
  }
  return pool as unknown as Pool
}

const onPrimary = process.argv[3] === 'primary'
const db = create({
  primary: instantPool(),
  replicas: onPrimary ? [] : [instantPool()],
  health: { interval: 3_600_000 },
})
const READS = 200_000
const IN_FLIGHT = 20
for (let round = 0; round < 3; round++) {
  const cpu = process.cpuUsage()
  let next = 0
  const loop = async (): Promise<void> => {
    while (next < READS) {
      const i = next++
      await (i % 2 === 0 ? db.query('SELECT 1') : db.query('SELECT $1::int', [i]))
    }
  }
  await Promise.all(Array.from({ length: IN_FLIGHT }, loop))
  const used = process.cpuUsage(cpu)
  console.log(
    `${which}${onPrimary ? ' (primary)' : ''}: ${((used.user + used.system) / READS).toFixed(2)} µs client CPU per read (round ${round + 1})`,
  )
}
await db.close()

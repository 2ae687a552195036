/**
 * Measuring aid: a fixed number of reads of the abba workload (20 in flight, `SELECT 1` /
 * `SELECT $1::int` alternating, a pool of 20 on replica 5434), for an instruction count that the
 * machine's load does not move. Run it under callgrind twice with different counts; the difference
 * of the two totals over the difference of the counts is the client's instructions per read (start-up
 * and warm-up cancel out). Not part of the suite.
 *
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --import tsx src/db-router/count.ts router 4000
 *   valgrind --tool=callgrind --callgrind-out-file=/dev/null node --import tsx src/db-router/count.ts router 14000
 *
 * `which`: `raw` (a pg.Pool), `router` (the workspace build), `before` (`SK_DBR_BEFORE=<dist/index.js>`).
 */
import { createDbRouter } from '@scalekit/db-router'
import pg from 'pg'
import { createContext } from './context'

const IN_FLIGHT = 20
const POOL_SIZE = 20

const [which = 'router', count = '10000'] = process.argv.slice(2)
const reads = Number(count)
const ctx = createContext()

interface Target {
  query(text: string, values?: unknown[]): Promise<unknown>
  close(): Promise<void>
}

type Create = typeof createDbRouter

async function open(): Promise<Target> {
  if (which === 'raw') {
    const pool = new pg.Pool({ connectionString: ctx.replicaUrl, max: POOL_SIZE })
    return { query: (text, values) => pool.query(text, values), close: () => pool.end() }
  }
  const create: Create =
    which === 'before'
      ? ((await import(process.env.SK_DBR_BEFORE ?? '')) as { createDbRouter: Create }).createDbRouter
      : createDbRouter
  // Under callgrind a read is some 50 times slower: no timeout or health check may fire meanwhile.
  const db = create({
    primary: ctx.primaryUrl,
    replicas: [{ connectionString: ctx.replicaUrl, max: POOL_SIZE }],
    timeouts: { connect: 3_600_000, query: 3_600_000 },
    health: { interval: 3_600_000, timeout: 3_600_000 },
  })
  return { query: (text, values) => db.query(text, values), close: () => db.close() }
}

const t = await open()
let next = 0
const loop = async (): Promise<void> => {
  while (next < reads) {
    const i = next++
    await (i % 2 === 0 ? t.query('SELECT 1') : t.query('SELECT $1::int', [i]))
  }
}
await Promise.all(Array.from({ length: IN_FLIGHT }, loop))
await t.close()
// Every read answered, or the count means nothing (a failed read ends the run early).
console.log(`${which}: ${reads} reads`)

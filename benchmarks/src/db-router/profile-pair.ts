/**
 * Profiling aid: raw pg on shard `a` (5441), raw pg with the settings a router gives its primary's
 * pool, and `db.shard(key).query`, in ONE process at the same concurrency, in alternating phases
 * (A B C / C B A …), each phase under its own V8 CPU profile (the inspector), so the sides share the
 * heap, the JIT state and the machine's drift. Per side and per read it prints: client CPU (user,
 * system), the shard cluster's server CPU (every process of its postmaster, from /proc; a backend that
 * exits during a phase makes that phase's figure wrong), read/write syscalls and bytes on the
 * process's file descriptors (/proc/self/io), server transactions (pg_stat_database, which lags by
 * about a second), context switches; then self time per function per read, largest differences
 * first. The self times are wall-clock samples: a phase in which the process was descheduled more
 * inflates every function of it. Not part of the suite.
 *
 *   flock /tmp/scalekit-bench.lock npx tsx src/db-router/profile-pair.ts [phases=8] [phaseMs=2000] [inFlight=16]
 */
import { readdirSync, readFileSync } from 'node:fs'
import { Session } from 'node:inspector/promises'
import pg from 'pg'
import { timeConcurrent } from '../harness'
import { SHARDS, shardFixture } from './profile-fixture'

const [phases = '8', phaseMs = '2000', inFlightArg = '16'] = process.argv.slice(2)
const T = `bench_shard_pair_${process.pid}`
const IN_FLIGHT = Number(inFlightArg)

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber: number }
  hitCount?: number
}
interface Profile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
  startTime: number
  endTime: number
}

const { db, onA, admin } = await shardFixture(T)
const raw = new pg.Pool({ connectionString: SHARDS[0] })
// The settings a router gives the pool of a primary it creates (src/nodes/pools.ts).
const rawlike = new pg.Pool({ connectionString: SHARDS[0], query_timeout: 30_000, allowExitOnIdle: true })
const session = new Session()
session.connect()
try {
  await db.ready()
  // The shard's server side: every process of its postmaster (backends, walwriter…), utime + stime.
  const [{ pid }] = (await admin.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows as [
    { pid: number },
  ]
  const stat = (p: string): string[] =>
    readFileSync(`/proc/${p}/stat`, 'utf8')
      .replace(/^.*\) /, '')
      .split(' ')
  const postmaster = stat(String(pid))[1] as string
  const tick = 1e6 / 100
  const serverUs = (): number => {
    let total = 0
    for (const p of readdirSync('/proc')) {
      if (!/^\d+$/.test(p)) continue
      try {
        const f = stat(p)
        if (f[1] === postmaster || p === postmaster) total += (Number(f[11]) + Number(f[12])) * tick
      } catch {
        // gone
      }
    }
    return total
  }
  const io = (): Record<string, number> =>
    Object.fromEntries(
      readFileSync('/proc/self/io', 'utf8')
        .trim()
        .split('\n')
        .map((l) => {
          const [k, v] = l.split(': ')
          return [k as string, Number(v)]
        }),
    )
  const xacts = async (): Promise<number> =>
    Number(
      (
        (
          await admin.query<{ n: string }>(
            `SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()`,
          )
        ).rows[0] as { n: string }
      ).n,
    )
  const point = `SELECT id, score FROM ${T} WHERE tenant_id = $1 AND id = $2`
  const sides = {
    raw: (i: number): Promise<unknown> => {
      const tenant = onA[i % onA.length] as string
      return raw.query(point, [tenant, (i % 20) + 1])
    },
    rawlike: (i: number): Promise<unknown> => {
      const tenant = onA[i % onA.length] as string
      return rawlike.query(point, [tenant, (i % 20) + 1])
    },
    shard: (i: number): Promise<unknown> => {
      const tenant = onA[i % onA.length] as string
      return db.shard(tenant).query(point, [tenant, (i % 20) + 1])
    },
  }
  type Side = keyof typeof sides
  for (const side of ['raw', 'shard', 'raw', 'shard'] as const)
    await timeConcurrent((loop, i) => sides[side](loop * 7 + i), IN_FLIGHT, 1000)
  await session.post('Profiler.enable')
  await session.post('Profiler.setSamplingInterval', { interval: 50 })
  const self: Record<Side, Map<string, number>> = { raw: new Map(), rawlike: new Map(), shard: new Map() }
  const zero = () => ({
    ops: 0,
    cpuUs: 0,
    userUs: 0,
    sysUs: 0,
    serverUs: 0,
    syscr: 0,
    syscw: 0,
    rchar: 0,
    wchar: 0,
    xacts: 0,
    vcs: 0,
    ics: 0,
    sampledUs: 0,
    opsPerSec: [] as number[],
  })
  const totals = { raw: zero(), rawlike: zero(), shard: zero() }
  for (let p = 0; p < Number(phases); p += 1) {
    const order: Side[] = p % 2 === 0 ? ['raw', 'rawlike', 'shard'] : ['shard', 'rawlike', 'raw']
    for (const side of order) {
      await session.post('Profiler.start')
      const io0 = io()
      const x0 = await xacts()
      const r0 = process.resourceUsage()
      const sv0 = serverUs()
      const s = await timeConcurrent((loop, i) => sides[side](loop * 7 + i), IN_FLIGHT, Number(phaseMs))
      const r1 = process.resourceUsage()
      totals[side].serverUs += serverUs() - sv0
      const io1 = io()
      for (const k of ['syscr', 'syscw', 'rchar', 'wchar'] as const)
        totals[side][k] += (io1[k] ?? 0) - (io0[k] ?? 0)
      // pg's statistics reach pg_stat_database within about a second of a transaction.
      await new Promise((r) => setTimeout(r, 1200))
      totals[side].xacts += (await xacts()) - x0
      const { profile } = (await session.post('Profiler.stop')) as unknown as { profile: Profile }
      const t = totals[side]
      t.ops += s.ops
      t.cpuUs += r1.userCPUTime - r0.userCPUTime + r1.systemCPUTime - r0.systemCPUTime
      t.userUs += r1.userCPUTime - r0.userCPUTime
      t.sysUs += r1.systemCPUTime - r0.systemCPUTime
      t.vcs += r1.voluntaryContextSwitches - r0.voluntaryContextSwitches
      t.ics += r1.involuntaryContextSwitches - r0.involuntaryContextSwitches
      t.opsPerSec.push(s.opsPerSec)
      const byId = new Map(profile.nodes.map((n) => [n.id, n]))
      const m = self[side]
      for (let k = 0; k < profile.samples.length; k += 1) {
        const node = byId.get(profile.samples[k] as number) as ProfileNode
        const f = node.callFrame
        const file = f.url
          .replace(/^.*node_modules\/(\.pnpm\/[^/]+\/node_modules\/)?/, '')
          .replace(/^.*\/work\/main\//, '')
        const key = `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`
        const dt = profile.timeDeltas[k + 1] ?? 0
        m.set(key, (m.get(key) ?? 0) + dt)
        t.sampledUs += dt
      }
    }
  }
  const perOp = (side: Side, key: string): number => (self[side].get(key) ?? 0) / totals[side].ops
  for (const side of ['raw', 'rawlike', 'shard'] as const) {
    const t = totals[side]
    console.log(
      `${side}: ${t.ops} reads, client CPU ${(t.cpuUs / t.ops).toFixed(2)} µs/read (user ${(t.userUs / t.ops).toFixed(2)}, sys ${(t.sysUs / t.ops).toFixed(2)}), server CPU ${(t.serverUs / t.ops).toFixed(2)} µs/read, syscalls/read r ${(t.syscr / t.ops).toFixed(3)} w ${(t.syscw / t.ops).toFixed(3)}, bytes/read in ${(t.rchar / t.ops).toFixed(1)} out ${(t.wchar / t.ops).toFixed(1)}, server transactions/read ${(t.xacts / t.ops).toFixed(4)}, ctx switches/read vol ${(t.vcs / t.ops).toFixed(3)} invol ${(t.ics / t.ops).toFixed(3)}, ops/s per phase ${t.opsPerSec.map((x) => x.toFixed(0)).join(' ')}`,
    )
  }
  const keys = new Set([...self.raw.keys(), ...self.shard.keys(), ...self.rawlike.keys()])
  const rows = [...keys].map((k) => [k, perOp('raw', k), perOp('rawlike', k), perOp('shard', k)] as const)
  rows.sort((a, b) => Math.abs(b[3] - b[1]) - Math.abs(a[3] - a[1]))
  console.log(
    'self time per read, µs (wall-clock samples): raw | raw as the router sets it | shard | shard − raw',
  )
  for (const [k, r, l, s] of rows.slice(0, 60))
    console.log(
      `${r.toFixed(3).padStart(7)} ${l.toFixed(3).padStart(7)} ${s.toFixed(3).padStart(7)} ${(s - r).toFixed(3).padStart(7)}  ${k}`,
    )
  const sum = (side: Side, f: (k: string) => boolean): number =>
    [...self[side].keys()].filter(f).reduce((acc, k) => acc + perOp(side, k), 0)
  for (const [label, f] of [
    ['(idle)', (k: string) => k.startsWith('(idle)')],
    ['(garbage collector)', (k: string) => k.startsWith('(garbage collector)')],
    ['(program)', (k: string) => k.startsWith('(program)')],
    ['db-router', (k: string) => k.includes('db-router/dist')],
    ['pg', (k: string) => / pg(-pool|-protocol)?\//.test(k) || k.includes(' pg/')],
    ['node:', (k: string) => k.includes('node:')],
    ['all but idle', (k: string) => !k.startsWith('(idle)')],
  ] as const)
    console.log(
      `${label.padEnd(22)} raw ${sum('raw', f).toFixed(2)}  rawlike ${sum('rawlike', f).toFixed(2)}  shard ${sum('shard', f).toFixed(2)}`,
    )
} finally {
  session.disconnect()
  await admin.query(`DROP TABLE IF EXISTS ${T}`)
  await admin.end()
  await raw.end()
  await rawlike.end()
  await db.close()
}

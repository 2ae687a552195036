/**
 * Uncached verify, 16 in flight: raw jose `jwtVerify` against `tokens.verify` (`cacheSize: 0`) of the
 * built package (or of the `dist/index.js` given as SK_SESSION_DIST). SK_SESSION_DISTS=`name=path,…`
 * loads other builds beside it, each a contender named `name`, for a before/after in one process.
 *
 * Instruction counts under callgrind — run it for two counts and divide the difference:
 *
 *   valgrind --tool=callgrind --smc-check=all-non-file node --import tsx src/session/verify-cost.ts <contender> 200
 *   valgrind --tool=callgrind --smc-check=all-non-file node --import tsx src/session/verify-cost.ts <contender> 1200
 *
 * Alternating rounds (the default mode, `abba`):
 *
 *   npx tsx src/session/verify-cost.ts abba [n per run = 3000] [rounds = 8] [EdDSA|ES256|HS256 = EdDSA] [contenders]
 *
 * Each round runs every contender forward then backward (A B C C B A), `n` verifies each, and reports
 * per contender ops/s, process CPU µs per verify, and the main thread's alone (Linux `schedstat`: what
 * the package adds runs there, while the signature check runs on the thread pool for both). Ratios to
 * `jose` are taken per round; `jose2` is the same code as `jose` (the method's noise); `joseSame` is
 * jose with the options `tokens.verify` passes it (required claims, clock tolerance).
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import type { JWK } from 'jose'
import { importJWK, jwtVerify } from 'jose'
import { session as built } from './peers'

type Session = typeof built
const load = async (path: string | undefined): Promise<Session> =>
  path === undefined ? built : ((await import(path)) as Session)
const session = await load(process.env.SK_SESSION_DIST)
/** Other builds beside it, each a contender of its own: `name=/path/to/dist/index.js,…`. */
const others = await Promise.all(
  (process.env.SK_SESSION_DISTS ?? '')
    .split(',')
    .filter((entry) => entry.includes('='))
    .map(async (entry) => {
      const [name, path] = entry.split('=') as [string, string]
      return [name, await load(path)] as const
    }),
)

const mode = process.argv[2] ?? 'abba'
const n = Number(process.argv[3] ?? 3000)
const rounds = Number(process.argv[4] ?? 8)
/** Verifies in flight: 16 (the issue's figure) unless SK_IN_FLIGHT says otherwise. */
const inFlight = Number(process.env.SK_IN_FLIGHT ?? 16)
const alg = (process.argv[5] ?? process.env.SK_ALG ?? 'EdDSA') as 'EdDSA' | 'ES256' | 'HS256'

function keyFor(): JWK {
  if (alg === 'HS256') return { kty: 'oct', k: randomBytes(32).toString('base64url'), kid: 'k', alg }
  const { privateKey } =
    alg === 'EdDSA' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'P-256' })
  return { ...(privateKey.export({ format: 'jwk' }) as JWK), kid: 'k', alg }
}
const jwk = keyFor()
const options = { issuer: 'https://auth.bench', audience: 'api', keys: { keys: [jwk] }, cacheSize: 0 }
const tokens = session.createTokens(options)
const otherTokens = others.map(([name, build]) => [name, build.createTokens(options)] as const)
const access = (await Promise.all(Array.from({ length: 64 }, (_, i) => tokens.issue({ sub: `u${i}` })))).map(
  (p) => p.accessToken,
)
const { d: _d, ...publicJwk } = jwk
const key = await importJWK(alg === 'HS256' ? jwk : publicJwk, alg)
const joseOptions = { algorithms: [alg], issuer: options.issuer, audience: 'api', typ: 'at+jwt' }
const sameOptions = {
  ...joseOptions,
  clockTolerance: 10,
  requiredClaims: ['sub', 'exp', 'iat', 'jti', 'sid'],
}
const verifiers: Record<string, (token: string) => Promise<unknown>> = {
  jose: (t) => jwtVerify(t, key, joseOptions),
  jose2: (t) => jwtVerify(t, key, joseOptions),
  joseSame: (t) => jwtVerify(t, key, sameOptions),
  ours: (t) => tokens.verify(t),
  ...Object.fromEntries(otherTokens.map(([name, t]) => [name, (token: string) => t.verify(token)])),
}

/** ns of CPU the main thread has used (Linux); 0 elsewhere. */
function mainThreadNs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])
  } catch {
    return 0
  }
}

interface Sample {
  readonly ops: number
  readonly cpuUs: number
  readonly mainUs: number
}

async function run(verify: (token: string) => Promise<unknown>, count: number): Promise<Sample> {
  let i = 0
  const worker = async (): Promise<void> => {
    while (i < count) await verify(access[i++ % access.length] as string)
  }
  const main = mainThreadNs()
  const before = process.cpuUsage()
  const start = performance.now()
  await Promise.all(Array.from({ length: inFlight }, worker))
  const elapsed = performance.now() - start
  const used = process.cpuUsage(before)
  return {
    ops: (count / elapsed) * 1000,
    cpuUs: (used.user + used.system) / count,
    mainUs: (mainThreadNs() - main) / 1000 / count,
  }
}

const median = (xs: readonly number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const m = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? (s[m] as number) : ((s[m - 1] as number) + (s[m] as number)) / 2
}
const fmt = (xs: readonly number[], digits = 3): string =>
  `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`

const only = verifiers[mode]
if (only !== undefined) await run(only, n)
else {
  const names = (process.argv[6] ?? Object.keys(verifiers).join(',')).split(',')
  const loads = [loadavg()[0] as number]
  for (const name of names) await run(verifiers[name] as (t: string) => Promise<unknown>, 1000)
  const per: Record<string, Sample[]> = Object.fromEntries(names.map((k) => [k, []]))
  const ratios: Record<string, { ops: number[]; cpu: number[]; main: number[] }> = {}
  for (let r = 0; r < rounds; r++) {
    // Forward then backward, the start rotated each round: every contender meets every position.
    const rotated = names.map((_, k) => names[(r + k) % names.length] as string)
    const round: Record<string, Sample[]> = Object.fromEntries(names.map((k) => [k, []]))
    for (const name of [...rotated, ...[...rotated].reverse()]) {
      const s = await run(verifiers[name] as (t: string) => Promise<unknown>, n)
      round[name]?.push(s)
      per[name]?.push(s)
    }
    const mean = (name: string, f: (s: Sample) => number): number =>
      (round[name] ?? []).reduce((a, s) => a + f(s), 0) / (round[name]?.length ?? 1)
    const pairs = names.filter((name) => name !== 'jose').map((name) => [name, 'jose'])
    if (names.includes('ours'))
      pairs.push(
        ...names.filter((name) => !name.startsWith('jose') && name !== 'ours').map((name) => [name, 'ours']),
      )
    for (const [name, base] of pairs as [string, string][]) {
      const q = (ratios[`${name} / ${base}`] ??= { ops: [], cpu: [], main: [] })
      q.ops.push(mean(name, (s) => s.ops) / mean(base, (s) => s.ops))
      q.cpu.push(mean(name, (s) => s.cpuUs) / mean(base, (s) => s.cpuUs))
      q.main.push(mean(name, (s) => s.mainUs) - mean(base, (s) => s.mainUs))
    }
    loads.push(loadavg()[0] as number)
  }
  console.log(`${alg}, ${inFlight} in flight, ${rounds} rounds × 2 runs of ${n}; load ${fmt(loads, 2)}`)
  console.log('median (range) per run: ops/s | process CPU µs/verify | main thread µs/verify')
  for (const name of names) {
    const s = per[name] ?? []
    console.log(
      `  ${name.padEnd(16)} ${fmt(
        s.map((x) => x.ops),
        0,
      )} | ${fmt(
        s.map((x) => x.cpuUs),
        1,
      )} | ${fmt(
        s.map((x) => x.mainUs),
        1,
      )}`,
    )
  }
  console.log('per round: ops/s ratio | CPU ratio | main thread µs more')
  for (const [name, q] of Object.entries(ratios))
    console.log(`  ${name.padEnd(16)} ${fmt(q.ops)} | ${fmt(q.cpu)} | ${fmt(q.main, 1)}`)
}
await tokens.close()
await Promise.all(otherTokens.map(([, t]) => t.close()))
process.exit(0)

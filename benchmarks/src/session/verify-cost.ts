/**
 * CPU of one uncached EdDSA verify, 16 in flight: raw jose `jwtVerify` or `tokens.verify`
 * (`cacheSize: 0`) of the built package (or of the `dist/index.js` given as SK_SESSION_DIST), for
 * instruction counts under callgrind — run it for two counts and divide the difference:
 *
 *   valgrind --tool=callgrind --smc-check=all-non-file node --import tsx src/session/verify-cost.ts <jose|ours> 200
 *   valgrind --tool=callgrind --smc-check=all-non-file node --import tsx src/session/verify-cost.ts <jose|ours> 1200
 *
 * With `abba` instead of a contender it prints CPU µs per verify of both, alternating: the whole
 * process's, and the main thread's alone (Linux `schedstat`: what the package adds runs there, while
 * the signature check runs on the thread pool for both).
 */
import { generateKeyPairSync } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { JWK } from 'jose'
import { importJWK, jwtVerify } from 'jose'
import { session as built } from './peers'

const dist = process.env.SK_SESSION_DIST
const session = dist === undefined ? built : ((await import(dist)) as typeof built)
const mode = process.argv[2] ?? 'abba'
const n = Number(process.argv[3] ?? 3000)
const jwk = {
  ...(generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' }) as JWK),
  kid: 'k',
  alg: 'EdDSA',
}
const options = { issuer: 'https://auth.bench', audience: 'api', keys: { keys: [jwk] }, cacheSize: 0 }
const tokens = session.createTokens(options)
const access = (await Promise.all(Array.from({ length: 64 }, (_, i) => tokens.issue({ sub: `u${i}` })))).map(
  (p) => p.accessToken,
)
const { d: _d, ...publicJwk } = jwk
const key = await importJWK(publicJwk, 'EdDSA')
const joseOptions = { algorithms: ['EdDSA'], issuer: options.issuer, audience: 'api', typ: 'at+jwt' }
const verifiers: Record<string, (token: string) => Promise<unknown>> = {
  jose: (t) => jwtVerify(t, key, joseOptions),
  ours: (t) => tokens.verify(t),
}

/** ns of CPU the main thread has used (Linux); 0 elsewhere. */
function mainThreadNs(): number {
  try {
    return Number(readFileSync(`/proc/self/task/${process.pid}/schedstat`, 'utf8').split(' ')[0])
  } catch {
    return 0
  }
}

async function run(verify: (token: string) => Promise<unknown>, count: number): Promise<[number, number]> {
  let i = 0
  const worker = async (): Promise<void> => {
    while (i < count) await verify(access[i++ % access.length] as string)
  }
  const main = mainThreadNs()
  const before = process.cpuUsage()
  await Promise.all(Array.from({ length: 16 }, worker))
  const used = process.cpuUsage(before)
  return [(used.user + used.system) / count, (mainThreadNs() - main) / 1000 / count]
}

const only = verifiers[mode]
if (only !== undefined) await run(only, n)
else {
  const cpu: Record<string, number[]> = { jose: [], ours: [] }
  const main: Record<string, number[]> = { jose: [], ours: [] }
  for (const name of ['jose', 'ours']) await run(verifiers[name] as (t: string) => Promise<unknown>, 1000)
  for (const name of ['jose', 'ours', 'ours', 'jose', 'jose', 'ours', 'ours', 'jose']) {
    const [whole, thread] = await run(verifiers[name] as (t: string) => Promise<unknown>, n)
    cpu[name]?.push(whole)
    main[name]?.push(thread)
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
  console.log({
    joseCpuUs: median(cpu.jose ?? []),
    oursCpuUs: median(cpu.ours ?? []),
    joseMainThreadUs: median(main.jose ?? []),
    oursMainThreadUs: median(main.ours ?? []),
    runs: cpu,
    mainThreadRuns: main,
  })
}
await tokens.close()
process.exit(0)

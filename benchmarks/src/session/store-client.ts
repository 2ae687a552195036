/**
 * The package's own client work per load + update of a 1 KB session, without sockets: a client that
 * answers at once (a load gets a stored text, a write says written), 20 in flight, against the same
 * steps done by hand on the raw replies (what `ioredis GETEX + our write script (raw)` does in the
 * store scenario). Rounds alternate the order; µs per pair, medians.
 *
 *   npx tsx src/session/store-client.ts [pairs per round, 100000] [rounds, 4]
 */
import { layoutText, loadAndUpdateByHand } from './layout'
import { session } from './peers'

const pairs = Number(process.argv[2] ?? 100_000)
const rounds = Number(process.argv[3] ?? 4)
// A fresh (flat) string, as a socket's reply is.
const stored = Buffer.from(layoutText(Date.now())).toString()
const client = {
  call: (): Promise<string> => Promise.resolve(stored),
  evalsha: (..._args: unknown[]): Promise<number> => Promise.resolve(1),
  eval: (): Promise<number> => Promise.resolve(1),
}
const sessions = session.createSessions({ redis: client as never, prefix: 'client' })
const id = 'A'.repeat(43)

const ops: Record<string, (n: number) => Promise<unknown>> = {
  'by hand on the raw replies': (n) =>
    loadAndUpdateByHand(
      () => client.call(),
      (revision, next) => client.evalsha('sha', 1, 'key', revision, next, 1_800_000),
      String(n),
    ),
  'sessions.load + update(record)': async (n) => {
    const record = await sessions.load(id)
    if (record !== undefined) await sessions.update(record, { field3: String(n) })
  },
}

const times: Record<string, number[]> = {}
for (let round = 0; round < rounds; round++) {
  const names = round % 2 === 0 ? Object.keys(ops) : Object.keys(ops).reverse()
  for (const name of names) {
    const op = ops[name] as (n: number) => Promise<unknown>
    const start = process.hrtime.bigint()
    await Promise.all(
      Array.from({ length: 20 }, async (_, w) => {
        for (let i = w; i < pairs; i += 20) await op(i)
      }),
    )
    ;(times[name] ??= []).push(Number(process.hrtime.bigint() - start) / pairs / 1000)
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0
console.table(
  Object.entries(times).map(([op, us]) => ({
    op,
    usPerPair: Math.round(median(us) * 100) / 100,
    rounds: us.map((u) => u.toFixed(2)).join(' '),
  })),
)
await sessions.close()

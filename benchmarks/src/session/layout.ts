/**
 * What the store benchmarks share: the 1 KB session they load and save, the Redis store's text of it
 * (the layout of `packages/session/src/drivers/session-text.ts`), the store's write script read from
 * its source, and a load + update of that text done by hand — our layout without the package.
 */
import { readFileSync } from 'node:fs'

/** The session's data: 20 fields of ~50 bytes. */
export const FIELDS: Record<string, string> = Object.fromEntries(
  Array.from({ length: 20 }, (_, i) => [`field${i}`, 'x'.repeat(48)]),
)

/** The store's text of a session holding {@link FIELDS}, written at `now`, without a user. */
export function layoutText(now: number): string {
  const data = `{${Object.entries(FIELDS)
    .map(([k, v]) => `\n${JSON.stringify(k)}:${JSON.stringify(v)}`)
    .join(',')}}`
  return `1\n${now}\n${now + 43_200_000}\n${now}\n1800000\n\n${data}`
}

/**
 * The package's write script, read from its source (it is not exported), so the rows by hand run
 * exactly what the store runs. KEYS: session; ARGV: revision read, new text, TTL (ms).
 */
export const WRITE_SCRIPT: string = ((source: string) => {
  const found = /const writeScript = new RedisScript\(`([^`]*)`\)/.exec(source)
  if (found?.[1] === undefined) throw new Error('writeScript not found in redis-store.ts')
  return found[1].replaceAll('\\\\n', '\\n')
})(readFileSync(new URL('../../../packages/session/src/drivers/redis-store.ts', import.meta.url), 'utf8'))

/**
 * One load + update by hand: `read` gets the stored text, the data is parsed as a load does, field3
 * is set to `value` in the text, and `write` is called with the revision read and the new text.
 */
export async function loadAndUpdateByHand(
  read: () => Promise<string | null>,
  write: (revision: string, next: string) => Promise<unknown>,
  value: string,
): Promise<unknown> {
  const raw = (await read()) ?? ''
  const eol = raw.indexOf('\n')
  const revision = raw.slice(0, eol)
  JSON.parse(raw.slice(raw.indexOf('\n{') + 1))
  const next = `${Number(revision) + 1}${raw
    .slice(eol)
    .replace(/\n"field3":"[^"]*"/, `\n"field3":${JSON.stringify(value)}`)}`
  return write(revision, next)
}

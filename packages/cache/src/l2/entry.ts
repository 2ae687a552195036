// The format of a cache entry in Redis, one string per key (see scripts.ts), and what a read or a
// write carries.

/** An entry as stored in Redis; times are Redis's clock (ms). */
export interface StoredEntry {
  /** The encoded (maybe encrypted) value. */
  data: string
  ver: number
  created: number
  expiresAt: number
  staleUntil: number
  tags: readonly string[]
  /** How long the factory took (ms), for early refresh. */
  delta: number
}

/** What a read found: the entry (if any), the current version ('0' = absent) and the lock state. */
export interface ReadResult {
  /** Redis's clock at the read, to turn stored times into local ones. */
  now: number
  entry: StoredEntry | undefined
  /** Version of whatever is stored, tombstones included; 0 when absent. */
  ver: number
  locked: boolean
  /** ms left on another holder's lock; -2 when there is no lock or none was asked for. */
  lockTtl: number
}

/** What to write. */
export interface WriteInput {
  data: string
  ttl: number
  grace: number
  tags: readonly string[]
  delta: number
  /** Write only if the stored version still equals this (0 = absent). */
  expectedVer?: number
  /** Redis time the refresh started (for tag checks); default: now. */
  created?: number
  /** Release this lock token in the same step. */
  lockToken?: string
}

/**
 * Parses an entry string (`ver|created|expiresAt|staleUntil|delta|tombstone|tagsLength|tags value`,
 * see scripts.ts). A malformed header reads as absent (version 0), so the next write replaces it.
 */
export function parseEntry(
  now: number,
  raw: string | null | undefined,
  locked: boolean,
  lockTtl: number,
): ReadResult {
  const absent: ReadResult = { now, entry: undefined, ver: 0, locked, lockTtl }
  if (raw === null || raw === undefined) return absent
  const header: number[] = []
  let pos = 0
  for (let i = 0; i < 7; i++) {
    const bar = raw.indexOf('|', pos)
    const field = bar < 0 ? Number.NaN : Number(raw.slice(pos, bar))
    if (!Number.isSafeInteger(field)) return absent
    header.push(field)
    pos = bar + 1
  }
  const [ver = 0, created = 0, expiresAt = 0, staleUntil = 0, delta = 0, tombstone = 0, tagsLength = 0] =
    header
  if (tombstone !== 0) return { now, entry: undefined, ver, locked, lockTtl }
  let tags: string[] = []
  if (tagsLength > 0) {
    try {
      tags = JSON.parse(raw.slice(pos, pos + tagsLength)) as string[]
    } catch {
      return { now, entry: undefined, ver, locked, lockTtl }
    }
  }
  return {
    now,
    entry: { data: raw.slice(pos + tagsLength), ver, created, expiresAt, staleUntil, tags, delta },
    ver,
    locked,
    lockTtl,
  }
}

/** Tags as JSON with every non-ASCII character escaped, so Lua's byte length equals the string length. */
export function asciiJson(tags: readonly string[]): string {
  return JSON.stringify(tags).replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  )
}

// The format of a cache entry in Redis, one string per key (see scripts.ts), what a read or a
// write carries, and how an encrypted entry is bound to its header.

import type { Encryption } from '../encryption'
import { CacheDecodeError } from '../errors'

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

/**
 * How far past the writer's estimate of Redis's clock an authenticated entry's write time may lie:
 * the write's trip to Redis plus the estimate's error. An honest write later than this reads as a
 * miss (and is rewritten); someone able to write to Redis can push an entry's expiry later by at
 * most this much.
 */
export const MAX_WRITE_DELAY_MS = 5000

/** What decides how an entry is served, beyond its value: fixed by the writer, checked by readers. */
export interface SealMeta {
  readonly ttl: number
  readonly grace: number
  readonly tags: readonly string[]
  readonly delta: number
  /** The creation time the writer passed (a refresh); undefined: Redis's clock at the write. */
  readonly created: number | undefined
}

/** Redis's clock as seen from here, learned from replies; a rough estimate is enough (see {@link MAX_WRITE_DELAY_MS}). */
export class RedisClock {
  #offset = 0

  learn(redisNow: number): void {
    if (Number.isFinite(redisNow)) this.#offset = redisNow - Date.now()
  }

  now(): number {
    return Math.round(Date.now() + this.#offset)
  }
}

const SEALED = /^(\d{1,16}):(\d{1,16}):([wc]):/

/**
 * The associated data of an encrypted entry: every header field that decides how it is served
 * (tags, their length, creation, expiry and grace through the ttl and write time, the refresh
 * delta), the codec's name, and, last, the Redis key (the fields before it hold no newline).
 */
function associatedData(
  redisKey: string,
  codecName: string,
  writtenAt: number,
  m: { ttl: number; grace: number; delta: number; created: number | undefined; tags: readonly string[] },
): string {
  const created = m.created === undefined ? 'w' : `c${m.created}`
  return `e2|${codecName.length}:${codecName}|${writtenAt}|${m.ttl}|${m.grace}|${Math.round(m.delta)}|${created}\n${asciiJson(m.tags)}\n${redisKey}`
}

/**
 * Encrypts an entry's value with its header fields as associated data, into
 * `<writtenAt>:<ttl>:<w|c>:<ciphertext>`. `writtenAt` is the writer's estimate of Redis's clock;
 * Redis computes the stored times from its own, and {@link openEntry} checks they agree.
 */
export function sealEntry(
  encryption: Encryption,
  redisKey: string,
  codecName: string,
  writtenAt: number,
  text: string,
  meta: SealMeta,
): string {
  const mode = meta.created === undefined ? 'w' : 'c'
  const aad = associatedData(redisKey, codecName, writtenAt, meta)
  return `${writtenAt}:${meta.ttl}:${mode}:${encryption.encrypt(text, aad)}`
}

/**
 * The codec text of a stored entry, or a `CacheDecodeError`: the value is too long to be one the
 * cache wrote (`maxValueBytes`), or, with encryption, it does not decrypt with the header as read
 * (a field was altered) or the header's times disagree with what the writer fixed.
 */
export function openEntry(
  stored: StoredEntry,
  redisKey: string,
  codecName: string,
  maxValueBytes: number,
  encryption: Encryption | undefined,
): string {
  const { data } = stored
  if (encryption === undefined) {
    // A UTF-16 code unit takes at least one byte: longer text was not written by a cache with this bound.
    if (data.length > maxValueBytes)
      throw new CacheDecodeError('Cannot decode: the entry exceeds maxValueBytes')
    return data
  }
  // Base64 of at most maxValueBytes bytes, the IV and the tag, plus the prefixes.
  if (data.length > 2 * maxValueBytes + 256)
    throw new CacheDecodeError('Cannot decode: the entry exceeds maxValueBytes')
  const sealed = SEALED.exec(data)
  if (sealed === null) throw new CacheDecodeError('Cannot decrypt: the entry is not sealed with its header')
  const writtenAt = Number(sealed[1])
  const ttl = Number(sealed[2])
  const writeTime = stored.expiresAt - ttl
  const created = sealed[3] === 'c' ? stored.created : undefined
  const consistent =
    writeTime <= writtenAt + MAX_WRITE_DELAY_MS &&
    stored.ver >= writeTime &&
    (created !== undefined || stored.created === writeTime)
  if (!consistent) throw new CacheDecodeError('Cannot decrypt: the entry header was altered')
  const aad = associatedData(redisKey, codecName, writtenAt, {
    ttl,
    grace: stored.staleUntil - stored.expiresAt,
    delta: stored.delta,
    created,
    tags: stored.tags,
  })
  return encryption.decrypt(data.slice(sealed[0].length), aad)
}

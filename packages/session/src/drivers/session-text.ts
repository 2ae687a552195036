import type { JsonValue } from '../tokens/types'

/**
 * The Redis store's text of one session: six header lines, then the data as a JSON object with
 * each field on a line of its own.
 *
 * ```text
 * 7                       revision: +1 on every write; what an update compares
 * 1796576396334           createdAt
 * 1796619596334           expiresAt (the absolute timeout)
 * 1796576401200           the last write
 * 1800000                 the idle timeout the key's TTL was last set with
 * "alice"                 the user id as JSON, or an empty line
 * {\n"cart":["book"],\n"theme":"dark"}
 * ```
 *
 * `JSON.stringify` never writes a raw line feed (it escapes one inside a string as `\n`), so in the
 * data a line feed appears only before a field: `\n"<name>":` finds one field, and the text can be
 * changed field by field without parsing it. One `JSON.parse` of the data gives every field back.
 */
export interface SessionText {
  readonly revision: number
  readonly createdAt: number
  readonly expiresAt: number
  readonly lastWrite: number
  readonly idleMs: number
  /** The user id as JSON, or '' when there is none. */
  readonly user: string
  /** `{` + `\n"<name>":<value>` joined by commas + `}`. */
  readonly data: string
}

/** The session text as stored. */
export function formatSession(s: SessionText): string {
  return `${s.revision}\n${s.createdAt}\n${s.expiresAt}\n${s.lastWrite}\n${s.idleMs}\n${s.user}\n${s.data}`
}

/** A stored text read back, or undefined if `raw` is not one (another writer's key reads as missing). */
export function parseSession(raw: unknown): SessionText | undefined {
  if (typeof raw !== 'string') return undefined
  const header: number[] = []
  let at = 0
  for (let i = 0; i < 5; i++) {
    const end = raw.indexOf('\n', at)
    if (end <= at) return undefined
    const value = Number(raw.slice(at, end))
    if (!Number.isSafeInteger(value)) return undefined
    header.push(value)
    at = end + 1
  }
  const userEnd = raw.indexOf('\n', at)
  if (userEnd < 0 || raw[userEnd + 1] !== '{' || !raw.endsWith('}')) return undefined
  const [revision = 0, createdAt = 0, expiresAt = 0, lastWrite = 0, idleMs = 0] = header
  return {
    revision,
    createdAt,
    expiresAt,
    lastWrite,
    idleMs,
    user: raw.slice(at, userEnd),
    data: raw.slice(userEnd + 1),
  }
}

/** The user id of a stored user line ('' → none), or undefined if the line is not a JSON string. */
export function userOf(line: string): string | undefined {
  if (line === '') return undefined
  try {
    const user: unknown = JSON.parse(line)
    return typeof user === 'string' ? user : undefined
  } catch {
    return undefined
  }
}

/** The data text of a data object; a field whose value JSON cannot write (undefined) is left out, as JSON leaves it. */
export function formatData(data: Readonly<Record<string, JsonValue>>): string {
  const fields: string[] = []
  for (const [name, value] of Object.entries(data)) {
    const text = JSON.stringify(value) as string | undefined
    if (text !== undefined) fields.push(`\n${JSON.stringify(name)}:${text}`)
  }
  return `{${fields.join(',')}}`
}

/** The data of a data text, or undefined if it is not a JSON object. */
export function parseData(text: string): Record<string, JsonValue> | undefined {
  try {
    const data: unknown = JSON.parse(text)
    return typeof data === 'object' && data !== null && !Array.isArray(data)
      ? (data as Record<string, JsonValue>)
      : undefined
  } catch {
    return undefined
  }
}

/** `text` with the fields of `set` written (replaced in place, or added at the end) and those of `unset` removed. */
export function mergeData(
  text: string,
  set: Readonly<Record<string, JsonValue>>,
  unset: readonly string[],
): string {
  let merged = text
  for (const [name, value] of Object.entries(set)) {
    const json = JSON.stringify(value) as string | undefined
    merged =
      json === undefined
        ? without(merged, name)
        : withField(merged, name, `\n${JSON.stringify(name)}:${json}`)
  }
  for (const name of unset) merged = without(merged, name)
  return merged
}

/** Where the field `name` starts (its line feed) and where the next one does (-1: it is the last). */
function find(text: string, name: string): { at: number; next: number } | undefined {
  const at = text.indexOf(`\n${JSON.stringify(name)}:`)
  return at < 0 ? undefined : { at, next: text.indexOf('\n', at + 1) }
}

function withField(text: string, name: string, field: string): string {
  const found = find(text, name)
  if (found === undefined) return text === '{}' ? `{${field}}` : `${text.slice(0, -1)},${field}}`
  const { at, next } = found
  return next < 0 ? `${text.slice(0, at)}${field}}` : `${text.slice(0, at)}${field},${text.slice(next)}`
}

function without(text: string, name: string): string {
  const found = find(text, name)
  if (found === undefined) return text
  const { at, next } = found
  // Not the last: drop the field and the comma after it. The last: drop the comma before it.
  if (next >= 0) return text.slice(0, at) + text.slice(next)
  return at === 1 ? '{}' : `${text.slice(0, at - 1)}}`
}

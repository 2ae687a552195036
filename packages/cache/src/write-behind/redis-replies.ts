import type { QueueRecord, QueuedOp, StoredDeadLetter } from './store'

/** A stream entry as Redis returns it; `fields` is null for an entry deleted while pending. */
export interface StreamEntry {
  readonly id: string
  readonly fields: readonly string[] | null
}

/** Parses `[[id, [field, value, …]], …]` (XRANGE, and one stream of XREADGROUP). */
export function parseEntries(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) return []
  const entries: StreamEntry[] = []
  for (const item of reply as unknown[]) {
    if (!Array.isArray(item)) continue
    const [id, fields] = item as unknown[]
    if (typeof id !== 'string') continue
    entries.push({ id, fields: Array.isArray(fields) ? (fields as unknown[]).map(String) : null })
  }
  return entries
}

/** Parses an XREADGROUP reply on one stream: `[[stream, entries]]`, or null when nothing came. */
export function parseReadGroup(reply: unknown): StreamEntry[] {
  if (!Array.isArray(reply)) return []
  const first: unknown = reply[0]
  return Array.isArray(first) ? parseEntries(first[1]) : []
}

/** The fields of a queued operation. */
export function opFields(op: QueuedOp): string[] {
  const fields = ['key', op.key, 'op', op.deleted ? 'del' : 'set']
  if (op.encoded !== undefined) fields.push('value', op.encoded)
  return fields
}

/** Turns a stream entry into a record; a malformed one is flagged `invalid` (it is dead-lettered). */
export function toRecord(entry: StreamEntry, now: number): QueueRecord {
  const fields = fieldMap(entry.fields ?? [])
  const key = fields.get('key')
  const op = fields.get('op')
  const queuedAt = Math.min(idTime(entry.id), now)
  const base = { id: entry.id, queuedAt, key: key ?? '', deleted: op === 'del', encoded: fields.get('value') }
  if (key === undefined || (op !== 'set' && op !== 'del') || (op === 'set' && base.encoded === undefined)) {
    return { ...base, invalid: 'malformed stream entry (needs key, op and, for a set, value)' }
  }
  return base
}

/** Turns a dead-letter stream entry into a dead letter. */
export function toDeadLetter(entry: StreamEntry): StoredDeadLetter {
  const fields = fieldMap(entry.fields ?? [])
  return {
    id: entry.id,
    key: fields.get('key') ?? '',
    deleted: fields.get('op') === 'del',
    encoded: fields.get('value'),
    reason: fields.get('reason') ?? '',
    attempts: Number(fields.get('attempts') ?? 0),
  }
}

/** Parses XINFO CONSUMERS: each consumer's name and pending count. */
export function parseConsumers(reply: unknown): { name: string; pending: number }[] {
  if (!Array.isArray(reply)) return []
  return (reply as unknown[]).flatMap((item) => {
    if (!Array.isArray(item)) return []
    const info = fieldMap((item as unknown[]).map(String))
    const name = info.get('name')
    return name === undefined ? [] : [{ name, pending: Number(info.get('pending') ?? 0) }]
  })
}

/** The ms part of a stream id `ms-seq`. */
export function idTime(id: string): number {
  const ms = Number(id.slice(0, id.indexOf('-')))
  return Number.isFinite(ms) ? ms : 0
}

function fieldMap(fields: readonly string[]): Map<string, string> {
  const map = new Map<string, string>()
  for (let i = 0; i + 1 < fields.length; i += 2) map.set(fields[i] ?? '', fields[i + 1] ?? '')
  return map
}

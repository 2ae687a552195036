import type { FieldDef, QueryResultRow } from 'pg'
import { DbMergeUnsupportedError } from '../errors'
import type { Combinable, SortTerm } from './statement'

/** Orders two rows as the statement's ORDER BY does: negative when `a` comes first. */
export type RowComparator<R> = (a: R, b: R) => number

const INT8 = 20
const NUMERIC = 1700

/** The sign, digits and scale of a decimal text (`-12.50`); undefined for `NaN` or anything else. */
function decimal(text: string): { units: bigint; scale: number } | undefined {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?$/.exec(text)
  if (m === null || (m[2] === '' && (m[3] ?? '') === '')) return undefined
  const frac = m[3] ?? ''
  const units = BigInt(`${m[2] === '' ? '0' : m[2]}${frac}`)
  return { units: m[1] === '-' ? -units : units, scale: frac.length }
}

function rescale(d: { units: bigint; scale: number }, scale: number): bigint {
  return d.units * 10n ** BigInt(scale - d.scale)
}

/** Compares two decimal texts exactly (Postgres `bigint` and `numeric` arrive as strings); `NaN` sorts last, as in Postgres. */
export function compareDecimal(a: string, b: string): number {
  const x = decimal(a)
  const y = decimal(b)
  if (x === undefined || y === undefined) return x === undefined ? (y === undefined ? 0 : 1) : -1
  const scale = Math.max(x.scale, y.scale)
  const u = rescale(x, scale)
  const v = rescale(y, scale)
  return u < v ? -1 : u > v ? 1 : 0
}

/** Adds two decimal texts exactly, keeping the larger scale. */
export function addDecimal(a: string, b: string): string {
  const x = decimal(a)
  const y = decimal(b)
  if (x === undefined || y === undefined) return 'NaN'
  const scale = Math.max(x.scale, y.scale)
  const sum = rescale(x, scale) + rescale(y, scale)
  const negative = sum < 0n
  const digits = (negative ? -sum : sum).toString().padStart(scale + 1, '0')
  const text = scale === 0 ? digits : `${digits.slice(0, -scale)}.${digits.slice(-scale)}`
  return negative ? `-${text}` : text
}

/**
 * Compares two non-null values of one column: numbers, bigints, dates, booleans and buffers by
 * value, `bigint`/`numeric` text exactly as decimals, other text by UTF-16 code units (Postgres'
 * `COLLATE "C"` order for ASCII; give a comparator of your own for a linguistic collation).
 */
export function compareValues(a: unknown, b: unknown, typeId: number | undefined): number {
  if (typeof a === 'number' && typeof b === 'number') return a < b ? -1 : a > b ? 1 : Number.isNaN(a) ? 1 : 0
  if (typeof a === 'bigint' && typeof b === 'bigint') return a < b ? -1 : a > b ? 1 : 0
  if (a instanceof Date && b instanceof Date) return a.getTime() - b.getTime()
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b)
  if (Buffer.isBuffer(a) && Buffer.isBuffer(b)) return Buffer.compare(a, b)
  if (typeof a === 'string' && typeof b === 'string') {
    if (typeId === INT8 || typeId === NUMERIC) return compareDecimal(a, b)
    return a < b ? -1 : a > b ? 1 : 0
  }
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint'))
    return compareDecimal(String(a), String(b))
  const x = JSON.stringify(a)
  const y = JSON.stringify(b)
  return x < y ? -1 : x > y ? 1 : 0
}

/** The comparator of an ORDER BY on output columns, by each column's type in `fields`. */
export function rowComparator<R extends QueryResultRow>(
  terms: readonly SortTerm[],
  fields: readonly FieldDef[],
): RowComparator<R> {
  const resolved = terms.map((t) => {
    const field = fields.find((f) => f.name === t.column)
    if (field === undefined)
      throw new DbMergeUnsupportedError(`ORDER BY ${t.column}: the results have no such column to merge by`)
    return { ...t, typeId: field.dataTypeID }
  })
  return (a, b) => {
    for (const t of resolved) {
      const x: unknown = a[t.column]
      const y: unknown = b[t.column]
      const xNull = x === null || x === undefined
      const yNull = y === null || y === undefined
      let c: number
      if (xNull || yNull) c = xNull && yNull ? 0 : xNull === t.nullsFirst ? -1 : 1
      else c = t.desc ? -compareValues(x, y, t.typeId) : compareValues(x, y, t.typeId)
      if (c !== 0) return c
    }
    return 0
  }
}

/**
 * Merges lists that are each sorted by `cmp` into one sorted list of at most `limit` rows: a k-way
 * merge that looks at each list's head (k, the number of shards, is small), so it stops after
 * `limit` rows instead of sorting everything.
 */
export function mergeSorted<R>(
  lists: readonly (readonly R[])[],
  cmp: RowComparator<R>,
  limit: number = Infinity,
): R[] {
  const heads = lists.map(() => 0)
  const out: R[] = []
  while (out.length < limit) {
    let best = -1
    let bestRow: R | undefined
    for (const [i, list] of lists.entries()) {
      const at = heads[i] ?? 0
      if (at >= list.length) continue
      const row = list[at] as R
      if (best < 0 || cmp(row, bestRow as R) < 0) {
        best = i
        bestRow = row
      }
    }
    if (best < 0) break
    heads[best] = (heads[best] ?? 0) + 1
    out.push(bestRow as R)
  }
  return out
}

function combine(fn: Combinable, a: unknown, b: unknown, typeId: number | undefined): unknown {
  if (a === null || a === undefined) return b
  if (b === null || b === undefined) return a
  if (fn === 'min') return compareValues(a, b, typeId) <= 0 ? a : b
  if (fn === 'max') return compareValues(a, b, typeId) >= 0 ? a : b
  if (typeof a === 'number' && typeof b === 'number') return a + b
  if (typeof a === 'bigint' && typeof b === 'bigint') return a + b
  if (typeof a === 'string' && typeof b === 'string') return addDecimal(a, b)
  throw new DbMergeUnsupportedError(`cannot add ${typeof a} and ${typeof b} values of ${fn}()`)
}

function groupKey(row: QueryResultRow, columns: readonly string[]): string {
  return columns
    .map((c) => {
      const v: unknown = row[c]
      if (v instanceof Date) return `d${v.getTime()}`
      if (Buffer.isBuffer(v)) return `b${v.toString('hex')}`
      if (typeof v === 'bigint') return `n${v}`
      return `${typeof v}${JSON.stringify(v)}`
    })
    .join('\u0000')
}

/**
 * Combines aggregate rows of every shard: rows with equal non-aggregate columns (the GROUP BY) are
 * folded into one, `count` and `sum` added (exactly: `bigint`/`numeric` arrive as text), `min` and
 * `max` kept. Without GROUP BY every shard answers one row, folded into one.
 */
export function combineAggregates<R extends QueryResultRow>(
  rows: readonly R[],
  aggregates: ReadonlyMap<string, Combinable>,
  fields: readonly FieldDef[],
): R[] {
  const types = new Map(fields.map((f) => [f.name, f.dataTypeID]))
  const groupColumns = fields.map((f) => f.name).filter((n) => !aggregates.has(n))
  const groups = new Map<string, Record<string, unknown>>()
  for (const row of rows) {
    const key = groupKey(row, groupColumns)
    const seen = groups.get(key)
    if (seen === undefined) {
      groups.set(key, { ...row })
      continue
    }
    for (const [column, fn] of aggregates)
      seen[column] = combine(fn, seen[column], row[column], types.get(column))
  }
  return [...groups.values()] as R[]
}

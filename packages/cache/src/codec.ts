import { Buffer } from 'node:buffer'
import { describeValue } from '@scalekit/internal'
import { CacheDecodeError, CacheEncodeError, CacheOptionsError } from './errors'

/**
 * Turns values into text for Redis and back. One codec serves both tiers, so a value reads back
 * identically from L1 and L2. Pluggable: pass your own (e.g. superjson-based) to change the format.
 */
export interface Codec {
  /** Names the format, for diagnostics; change it when the format changes. */
  readonly name: string
  /** Throws `CacheEncodeError` when the value cannot be encoded; nothing is written then. */
  encode(value: unknown): string
  /** Throws `CacheDecodeError` (with the cause) when the text is not something `encode` produced. */
  decode(text: string): unknown
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type Tagged = { $t: string; v?: Json }

/**
 * Options of {@link createJsonCodec}: what it accepts, and what it revives from text that anyone
 * able to write to Redis may have put there. The bounds apply to encoding too, so a value either
 * round-trips or is refused when it is written, never lost on read.
 */
export interface JsonCodecOptions {
  /** Longest text `decode` parses, in UTF-16 code units. @default 16 777 216 (16 Mi) */
  maxLength?: number
  /** Most decimal digits of a `BigInt` (parsing costs grow with the square of it). @default 4096 */
  maxBigIntDigits?: number
  /** Deepest nesting of arrays and objects that holds a special type (the revival walk recurses). @default 512 */
  maxDepth?: number
  /**
   * Round-trips `RegExp` values. Off by default: a pattern read back from Redis is code that runs
   * on your data (`^(a+)+$` took 5.6 s on 28 characters), and anyone able to write to Redis chooses
   * it. When off, encoding a `RegExp` throws `CacheEncodeError` and a stored one reads as a miss.
   * @default false
   */
  regExp?: boolean
}

/** {@link JsonCodecOptions} with every default applied. */
interface Limits {
  readonly maxLength: number
  readonly maxBigIntDigits: number
  readonly maxDepth: number
  readonly regExp: boolean
}

/** The defaults of {@link JsonCodecOptions}. */
const jsonCodecDefaults: Readonly<Required<JsonCodecOptions>> = Object.freeze({
  maxLength: 16 * 1024 * 1024,
  maxBigIntDigits: 4096,
  maxDepth: 512,
  regExp: false,
})

/** The marker key. A user object that has it is wrapped as `{"$t":"Obj","v":{…}}`, never confused. */
const TAG = '$t'
/** Beyond this depth the fast-path check bails out to the walk that detects cycles. */
const MAX_FAST_DEPTH = 64
const UNDEFINED: Tagged = { $t: 'undef' }
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/
const BIGINT = /^-?\d+$/
const IDENTIFIER = /^[A-Za-z_$][\w$]*$/

/**
 * Thrown inside the walk; each level adds its path segment on the way out, and `encode` rethrows it
 * as a plain `CacheEncodeError` with the whole path.
 */
class Unencodable extends CacheEncodeError {
  readonly segments: string[] = []
  readonly #cycleDepth: number

  constructor(what: string, cycleDepth = -1) {
    super(what)
    this.#cycleDepth = cycleDepth
  }

  at(segment: string): this {
    this.segments.push(segment)
    return this
  }

  describe(): string {
    const path = this.segments.reverse()
    const where = `Cannot encode ${this.message} at $${path.join('')}`
    return this.#cycleDepth < 0
      ? where
      : `${where} (it points back to $${path.slice(0, this.#cycleDepth).join('')})`
  }
}

function at(error: unknown, segment: () => string): unknown {
  return error instanceof Unencodable ? error.at(segment()) : error
}

const named = (value: object): string =>
  `${/^[AEIOU]/.test(value.constructor.name) ? 'an' : 'a'} ${value.constructor.name}`
const keySegment = (key: string): string => (IDENTIFIER.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`)

/** True when `JSON.stringify` alone round-trips the value: the fast path, no copy. */
function isPlainJson(value: unknown, depth: number, maxDepth: number): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value) && (value !== 0 || 1 / value > 0)
    case 'object': {
      if (value === null) return true
      if (depth > maxDepth) return false
      if (Array.isArray(value)) {
        if (Object.getPrototypeOf(value) !== Array.prototype) return false
        for (let i = 0; i < value.length; i++) {
          const item: unknown = value[i]
          if (item === undefined || !isPlainJson(item, depth + 1, maxDepth)) return false
        }
        return true
      }
      if (Object.getPrototypeOf(value) !== Object.prototype) return false
      for (const key in value) {
        if (key === TAG || !isPlainJson((value as Record<string, unknown>)[key], depth + 1, maxDepth))
          return false
      }
      return true
    }
    default:
      return false
  }
}

function toJson(value: unknown, ancestors: object[], limits: Limits): Json {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (Number.isFinite(value)) return value === 0 && 1 / value < 0 ? { $t: '-0' } : value
      return { $t: Number.isNaN(value) ? 'NaN' : value > 0 ? 'Inf' : '-Inf' }
    case 'undefined':
      return UNDEFINED
    case 'bigint': {
      const digits = value.toString()
      if (digits.length - (value < 0n ? 1 : 0) > limits.maxBigIntDigits)
        throw new Unencodable(`a BigInt of more than ${limits.maxBigIntDigits} digits (maxBigIntDigits)`)
      return { $t: 'BigInt', v: digits }
    }
    case 'object': {
      if (value === null) return null
      const depth = ancestors.indexOf(value)
      if (depth >= 0) throw new Unencodable('a circular reference', depth)
      if (ancestors.length >= limits.maxDepth)
        throw new Unencodable(`a value nested deeper than ${limits.maxDepth} levels (maxDepth)`)
      ancestors.push(value)
      const json = objectToJson(value, ancestors, limits)
      ancestors.pop()
      return json
    }
    default:
      throw new Unencodable(`a ${typeof value}`)
  }
}

function objectToJson(value: object, ancestors: object[], limits: Limits): Json {
  if (Array.isArray(value)) return itemsToJson(value, ancestors, limits)
  const proto: unknown = Object.getPrototypeOf(value)
  if (proto === Object.prototype) return propsToJson(value, ancestors, limits, 'Obj')
  if (proto === null) return { $t: 'NullObj', v: propsToJson(value, ancestors, limits) }
  if (value instanceof Date) {
    const time = value.getTime()
    return { $t: 'Date', v: Number.isNaN(time) ? null : time }
  }
  if (value instanceof Map) return { $t: 'Map', v: entriesToJson(value, ancestors, limits) }
  if (value instanceof Set) return { $t: 'Set', v: itemsToJson([...value], ancestors, limits, '<item #') }
  if (value instanceof RegExp) {
    if (!limits.regExp) throw new Unencodable('a RegExp (off by default: createJsonCodec({ regExp: true }))')
    return { $t: 'RegExp', v: [value.source, value.flags] }
  }
  if (value instanceof Uint8Array) {
    const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64')
    return { $t: Buffer.isBuffer(value) ? 'Buffer' : 'U8', v: bytes }
  }
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) {
    throw new Unencodable(`${named(value)} (of binary data, only Uint8Array and Buffer are supported)`)
  }
  if (value instanceof Promise || value instanceof WeakMap || value instanceof WeakSet) {
    throw new Unencodable(named(value))
  }
  return propsToJson(value, ancestors, limits, 'Obj')
}

function itemsToJson(items: readonly unknown[], ancestors: object[], limits: Limits, label?: string): Json[] {
  const out: Json[] = []
  for (let i = 0; i < items.length; i++) {
    try {
      out.push(toJson(items[i], ancestors, limits))
    } catch (error) {
      throw at(error, () => (label === undefined ? `[${i}]` : `.${label}${i}>`))
    }
  }
  return out
}

function entriesToJson(map: ReadonlyMap<unknown, unknown>, ancestors: object[], limits: Limits): Json[] {
  const out: Json[] = []
  let i = 0
  for (const [key, value] of map) {
    try {
      out.push(toJson(key, ancestors, limits))
    } catch (error) {
      throw at(error, () => `.<key #${i}>`)
    }
    try {
      out.push(toJson(value, ancestors, limits))
    } catch (error) {
      throw at(error, () => `.<value #${i}>`)
    }
    i++
  }
  return out
}

/** Own enumerable string keys only; with `escapeAs`, an object that has the marker key is wrapped. */
function propsToJson(value: object, ancestors: object[], limits: Limits, escapeAs?: string): Json {
  const out: Record<string, Json> = {}
  for (const key of Object.keys(value)) {
    let json: Json
    try {
      json = toJson((value as Record<string, unknown>)[key], ancestors, limits)
    } catch (error) {
      throw at(error, () => keySegment(key))
    }
    if (key === '__proto__')
      Object.defineProperty(out, key, { value: json, enumerable: true, writable: true, configurable: true })
    else out[key] = json
  }
  return escapeAs !== undefined && Object.hasOwn(out, TAG) ? { $t: escapeAs, v: out } : out
}

/** Revives the tagged values `JSON.parse` produced, in place; `depth` counts the containers above. */
class Reviver {
  readonly #limits: Limits

  constructor(limits: Limits) {
    this.#limits = limits
  }

  revive(value: unknown, depth: number): unknown {
    if (typeof value !== 'object' || value === null) return value
    if (depth >= this.#limits.maxDepth)
      throw new CacheDecodeError(
        `Cannot decode: nested deeper than ${this.#limits.maxDepth} levels (maxDepth)`,
      )
    if (Array.isArray(value)) return this.items(value, depth)
    const record = value as Record<string, unknown>
    return Object.hasOwn(record, TAG) ? this.untag(record, depth) : this.props(record, depth)
  }

  items(items: unknown[], depth: number): unknown[] {
    for (let i = 0; i < items.length; i++) {
      const item = items[i]
      if (typeof item === 'object' && item !== null) items[i] = this.revive(item, depth + 1)
    }
    return items
  }

  /** Mutates in place: `JSON.parse` made the object, so even a `__proto__` key is an own property. */
  props(record: Record<string, unknown>, depth: number): Record<string, unknown> {
    for (const key in record) {
      const item = record[key]
      if (typeof item === 'object' && item !== null) record[key] = this.revive(item, depth + 1)
    }
    return record
  }

  untag(record: Record<string, unknown>, depth: number): unknown {
    const marker = record[TAG]
    const tag = typeof marker === 'string' ? marker : typeof marker
    const v = record.v
    const text = (pattern?: RegExp): string => {
      if (typeof v !== 'string' || (pattern !== undefined && !pattern.test(v))) throw malformed(tag)
      return v
    }
    const list = (): unknown[] => {
      if (!Array.isArray(v)) throw malformed(tag)
      return v
    }
    const props = (): Record<string, unknown> => {
      if (typeof v !== 'object' || v === null || Array.isArray(v)) throw malformed(tag)
      return this.props(v as Record<string, unknown>, depth)
    }
    switch (tag) {
      case 'undef':
        return undefined
      case 'NaN':
        return Number.NaN
      case 'Inf':
        return Number.POSITIVE_INFINITY
      case '-Inf':
        return Number.NEGATIVE_INFINITY
      case '-0':
        return -0
      case 'BigInt': {
        // Checked before parsing: BigInt() of a million digits costs ~160 ms of this thread.
        if (typeof v === 'string' && v.length - (v.startsWith('-') ? 1 : 0) > this.#limits.maxBigIntDigits)
          throw new CacheDecodeError(
            `Cannot decode: a BigInt of more than ${this.#limits.maxBigIntDigits} digits (maxBigIntDigits)`,
          )
        return BigInt(text(BIGINT))
      }
      case 'Obj':
        return props()
      case 'NullObj':
        return Object.assign(Object.create(null) as Record<string, unknown>, props())
      case 'Set':
        return new Set(this.items(list(), depth))
      case 'U8':
        return new Uint8Array(Buffer.from(text(BASE64), 'base64'))
      case 'Buffer':
        return Buffer.from(text(BASE64), 'base64')
      case 'Date': {
        if (v !== null && typeof v !== 'number') throw malformed(tag)
        return new Date(v ?? Number.NaN)
      }
      case 'RegExp': {
        if (!this.#limits.regExp)
          throw new CacheDecodeError(
            'Cannot decode: a RegExp (off by default: createJsonCodec({ regExp: true }))',
          )
        const [source, flags, ...rest] = list()
        if (typeof source !== 'string' || typeof flags !== 'string' || rest.length > 0) throw malformed(tag)
        return new RegExp(source, flags)
      }
      case 'Map': {
        const flat = this.items(list(), depth)
        if (flat.length % 2 !== 0) throw malformed(tag)
        const map = new Map<unknown, unknown>()
        for (let i = 0; i < flat.length; i += 2) map.set(flat[i], flat[i + 1])
        return map
      }
      default:
        throw new CacheDecodeError(`Cannot decode: unknown type tag ${JSON.stringify(tag.slice(0, 16))}`)
    }
  }
}

function malformed(tag: string): CacheDecodeError {
  return new CacheDecodeError(`Cannot decode: malformed value tagged "${tag}"`)
}

const positive = (name: string, value: unknown, fallback: number): number => {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1)
    throw new CacheOptionsError(`codec: ${name} must be a positive integer, got ${describeValue(value)}`)
  return value
}

function resolveLimits(options: unknown): Limits {
  if (options === undefined) return jsonCodecDefaults
  if (typeof options !== 'object' || options === null)
    throw new CacheOptionsError('createJsonCodec options must be an object')
  const o = options as Record<string, unknown>
  if (o.regExp !== undefined && typeof o.regExp !== 'boolean')
    throw new CacheOptionsError(`codec: regExp must be a boolean, got ${typeof o.regExp}`)
  return {
    maxLength: positive('maxLength', o.maxLength, jsonCodecDefaults.maxLength),
    maxBigIntDigits: positive('maxBigIntDigits', o.maxBigIntDigits, jsonCodecDefaults.maxBigIntDigits),
    maxDepth: positive('maxDepth', o.maxDepth, jsonCodecDefaults.maxDepth),
    regExp: o.regExp ?? jsonCodecDefaults.regExp,
  }
}

/**
 * A JSON codec with bounds of your own (see {@link JsonCodecOptions}); {@link jsonCodec} is this
 * with the defaults. Throws `CacheOptionsError` on an invalid option.
 */
export function createJsonCodec(options?: JsonCodecOptions): Codec {
  const limits = resolveLimits(options)
  const reviver = new Reviver(limits)
  const fastDepth = Math.min(MAX_FAST_DEPTH, limits.maxDepth - 1)

  function encode(value: unknown): string {
    let text: string
    try {
      text = JSON.stringify(isPlainJson(value, 0, fastDepth) ? value : toJson(value, [], limits))
    } catch (error) {
      if (error instanceof Unencodable) throw new CacheEncodeError(error.describe())
      const why = error instanceof RangeError ? 'the value is nested too deeply' : 'reading the value threw'
      throw new CacheEncodeError(`Cannot encode: ${why}`, { cause: error })
    }
    if (text.length > limits.maxLength)
      throw new CacheEncodeError(`Cannot encode: the text is longer than ${limits.maxLength} (maxLength)`)
    return text
  }

  function decode(text: string): unknown {
    if (typeof text !== 'string') throw new CacheDecodeError('Cannot decode: not a string')
    if (text.length > limits.maxLength)
      throw new CacheDecodeError(`Cannot decode: the text is longer than ${limits.maxLength} (maxLength)`)
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      // Not the parser's message: it quotes the text, which may hold user data.
      throw new CacheDecodeError('Cannot decode: the text is not valid JSON', { cause: error })
    }
    // `$t"` rather than `"$t"`: the search skips ahead on a rare first character (a quote is in every
    // key); a false hit only costs the walk.
    if (!text.includes('$t"')) return parsed
    try {
      return reviver.revive(parsed, 0)
    } catch (error) {
      if (error instanceof CacheDecodeError) throw error
      throw new CacheDecodeError('Cannot decode: the text holds a malformed tagged value', { cause: error })
    }
  }

  return { name: 'json', encode, decode }
}

/**
 * The default codec: JSON text that round-trips exactly what `JSON` alone loses. Values with none
 * of the types below encode as plain `JSON.stringify` output (checked first; this is the fast path)
 * and decode with plain `JSON.parse` when the text holds no `"$t"`.
 *
 * Round-trips, nested up to `maxDepth` (512): `undefined` (a property whose value is `undefined`
 * stays present; an array hole comes back as `undefined`), `NaN`, `±Infinity`, `-0`, `BigInt` (up to
 * 4096 digits), `Date` (also invalid), `Map` and `Set` (any supported keys and values, insertion
 * order kept), `Uint8Array` and `Buffer` (each comes back as itself), plain and null-prototype
 * objects, arrays, and strings with any code units, lone surrogates too. `RegExp` only with
 * `createJsonCodec({ regExp: true })`. Other objects (class instances, `Error`…) encode as plain
 * objects of their own enumerable string keys (`toJSON` is not called); subclasses of the types
 * above come back as the base type.
 *
 * Throws `CacheEncodeError` naming the path (e.g. `$.user.tags[2]`) for functions, symbols,
 * cycles, promises, weak collections, binary data other than `Uint8Array`/`Buffer`, and values past
 * the bounds of {@link JsonCodecOptions}. Decoding refuses text past those bounds with
 * `CacheDecodeError` before doing the costly part. Shared, non-circular references are encoded once
 * per occurrence and come back as separate copies.
 */
export const jsonCodec: Codec = createJsonCodec()

import { describeValue } from '@scalekit/internal'
import { QueueEncodeError } from './errors'

/** `JSON.stringify` as it is: `undefined` for a value JSON has no text for. */
const stringify: (value: unknown) => string | undefined = JSON.stringify

/** A payload as it travels: the JSON bytes, and the value a consumer will parse back from them. */
export interface Encoded {
  readonly body: Buffer
  readonly text: string
}

/**
 * The JSON text of `payload`, or a coded error: JSON throws on a BigInt, a cycle or a throwing
 * `toJSON`, and has no text at all for a top-level `undefined`, function or symbol. What JSON
 * changes silently inside the value (a `Date` becomes a string, a `Map` `{}`, `NaN` `null`, an
 * `undefined` field disappears) is caught by validating the decoded value (see `publish`).
 */
export function encodePayload(typeName: string, payload: unknown): Encoded {
  let text: string | undefined
  try {
    text = stringify(payload)
  } catch (error) {
    throw new QueueEncodeError(
      `payload of ${typeName} cannot be encoded as JSON (${error instanceof Error ? error.message : String(error)}): send plain data — strings, numbers, booleans, null, arrays and objects`,
      { cause: error },
    )
  }
  if (text === undefined) {
    throw new QueueEncodeError(
      `payload of ${typeName} is ${describeValue(payload)}, which JSON cannot carry: send plain data — strings, numbers, booleans, null, arrays and objects`,
    )
  }
  return { body: Buffer.from(text, 'utf8'), text }
}

/** Deeper values are not walked: {@link isPlainJson} says no and `publish` parses their text. */
const MAX_WALK_DEPTH = 32

/**
 * Whether a value JSON accepted comes back from `JSON.parse` as the same value, as a validator
 * sees it: strings, booleans, null, finite numbers other than `-0`, arrays without holes and
 * plain objects (`Object.prototype`, every own property enumerable, no `toJSON`, no field JSON
 * drops — `undefined`, a function, a symbol), at most {@link MAX_WALK_DEPTH} levels deep. A getter
 * is read like a field. When it is, `publish` validates the value itself instead of parsing the
 * text it just wrote; `false` only means "parse it", never "refuse it". Only for a value
 * `encodePayload` accepted (so without cycles).
 */
export function isPlainJson(value: unknown, depth: number = MAX_WALK_DEPTH): boolean {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return true
    case 'number':
      return Number.isFinite(value) && !Object.is(value, -0)
    case 'object':
      break
    default:
      return false
  }
  if (value === null) return true
  if (depth === 0) return false
  if (Array.isArray(value)) {
    if (Object.getPrototypeOf(value) !== Array.prototype) return false
    // A hole reads as `undefined`, which JSON writes as null: not plain.
    for (let i = 0; i < value.length; i++) if (!isPlainJson(value[i], depth - 1)) return false
    return true
  }
  const object = value as Record<string, unknown>
  if (Object.getPrototypeOf(object) !== Object.prototype || typeof object.toJSON === 'function') return false
  let enumerable = 0
  for (const key in object) {
    enumerable += 1
    if (!isPlainJson(object[key], depth - 1)) return false
  }
  // A non-enumerable own property (JSON drops it, a validator reads it) or an inherited enumerable one.
  return enumerable === Object.getOwnPropertyNames(object).length
}

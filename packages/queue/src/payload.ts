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

import { QueueArgumentError } from './errors'
import type { StandardSchemaV1 } from './standard-schema'

/**
 * A message type: a routing name plus the schema its payloads must pass. Published once, each
 * consumer group gets its own copy. Create it with {@link defineMessage}.
 */
export interface MessageType<Input = unknown, Output = Input> {
  /** The routing name, e.g. `order.placed`. */
  readonly name: string
  /** The Standard Schema payloads are validated with, on publish and again on consume. */
  readonly schema: StandardSchemaV1<Input, Output>
}

/** The payload type `publish` takes for a message type. */
export type PayloadInput<T> = T extends MessageType<infer I, unknown> ? I : never
/** The payload type a handler receives for a message type. */
export type PayloadOutput<T> = T extends MessageType<unknown, infer O> ? O : never

/** Dot-separated words of `[a-z0-9_-]`: valid as an AMQP topic routing key and in queue names. */
export const MESSAGE_NAME: RegExp = /^[a-z0-9_-]+(\.[a-z0-9_-]+)*$/i

/** A consumer group name: also part of queue names and routing keys. */
export const GROUP_NAME: RegExp = /^[A-Za-z0-9_-]{1,64}$/

/**
 * Defines a message type. `name` is dot-separated words of letters, digits, `_` and `-` (at most
 * 120 characters); `schema` is any Standard Schema (zod, valibot, arktype…).
 * @throws QueueArgumentError when the name or schema is invalid.
 */
export function defineMessage<S extends StandardSchemaV1>(
  name: string,
  schema: S,
): MessageType<StandardSchemaV1.InferInput<S>, StandardSchemaV1.InferOutput<S>> {
  if (typeof name !== 'string' || name.length > 120 || !MESSAGE_NAME.test(name)) {
    throw new QueueArgumentError(
      `message name must be dot-separated words of [A-Za-z0-9_-], at most 120 characters; got ${JSON.stringify(name)}`,
    )
  }
  if (
    typeof schema !== 'object' ||
    typeof (schema as Partial<StandardSchemaV1>)['~standard']?.validate !== 'function'
  ) {
    throw new QueueArgumentError(`defineMessage('${name}') needs a Standard Schema (zod, valibot, arktype…)`)
  }
  return Object.freeze({ name, schema })
}

/** "path: message; …" for an error message, at most the first 5 issues. */
export function describeIssues(issues: readonly StandardSchemaV1.Issue[]): string {
  return issues
    .slice(0, 5)
    .map((i) => {
      const path = (i.path ?? []).map((p) => String(typeof p === 'object' ? p.key : p)).join('.')
      return path === '' ? i.message : `${path}: ${i.message}`
    })
    .join('; ')
}

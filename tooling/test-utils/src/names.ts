import { randomBytes } from 'node:crypto'

/** Names must fit Postgres identifiers (63 bytes) with room for a suffix the caller appends. */
const MAX_LENGTH = 48

let counter = 0

/**
 * A name no other test file, process or run uses, so files can share one Redis, Postgres and
 * RabbitMQ in parallel: `sk_<label>_<pid36>_<counter36><random>`. Lowercase `[a-z0-9_]`, starts
 * with a letter, at most 48 characters: valid unquoted as a Postgres schema, a Redis key prefix,
 * and a RabbitMQ queue or exchange name. `label` is sanitised and shortened to fit.
 */
export function uniqueName(label: string): string {
  counter += 1
  const suffix = `${process.pid.toString(36)}_${counter.toString(36)}${randomBytes(4).readUInt32BE(0).toString(36).padStart(7, '0')}`
  const room = MAX_LENGTH - 'sk_'.length - '_'.length - suffix.length
  const clean =
    label
      .toLowerCase()
      .replace(/[^a-z0-9_]+/g, '_')
      .replace(/_+/g, '_')
      .replace(/^_|_$/g, '')
      .slice(0, Math.max(room, 1))
      .replace(/_$/, '') || 'x'
  return `sk_${clean}_${suffix}`
}

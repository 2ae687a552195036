import type { Channel, Options } from 'amqplib'
import { QueueTopologyMismatchError, timedOut } from '../../errors'
import { withTimeout } from '@scalekit/internal'

/**
 * The RabbitMQ topology, all derived from the app name `A` (see the README):
 * - `A` — topic exchange; a message is published with its type name as routing key.
 * - `A.<group>.<type>` — a quorum queue per (type, group), bound to `A` by `<type>` (every copy)
 *   and by `retry:<group>.<type>` (retries of this group only), with a delivery limit whose
 *   overflow dead-letters (via the default exchange) to the group's dead-letter queue.
 * - `A.<group>:dead-letter` — a quorum queue per group; dead letters carry `x-sk-reason` and `x-sk-attempts`.
 * - `A:delay` — headers exchange into the delay ladder; `A:delay:<ms>` — a quorum queue per step
 *   (100 ms × 2^k, declared on first use) whose expired messages dead-letter back to `A` with
 *   their routing key, so a delayed message reaches every group and a retry only its own.
 * Types and groups cannot contain `:`, so no name or routing key of one can collide with another's.
 */
export interface Topology {
  readonly exchange: string
  readonly delayExchange: string
  groupQueue(type: string, group: string): string
  deadLetterQueue(group: string): string
  delayQueue(step: number): string
  retryKey(type: string, group: string): string
}

/** The topology names of app `app`. */
export function topology(app: string): Topology {
  return {
    exchange: app,
    delayExchange: `${app}:delay`,
    groupQueue: (type, group) => `${app}.${group}.${type}`,
    deadLetterQueue: (group) => `${app}.${group}:dead-letter`,
    delayQueue: (step) => `${app}:delay:${step}`,
    retryKey: (type, group) => `retry:${group}.${type}`,
  }
}

/** The smallest ladder step; steps are `LADDER_BASE_MS × 2^k`. */
export const LADDER_BASE_MS = 100

/** The ladder step that holds a delay of `delayMs` (the message expires after exactly `delayMs`). */
export function delayStep(delayMs: number): number {
  const k = Math.max(0, Math.floor(Math.log2(Math.max(delayMs, 1) / LADDER_BASE_MS)))
  return LADDER_BASE_MS * 2 ** k
}

/**
 * Header that routes a message into a ladder step. Not `x-` prefixed: a headers exchange ignores
 * `x-` headers when matching, so such a binding would match every message.
 */
export const DELAY_HEADER = 'sk-delay-step'

const quorum = (extra: Record<string, unknown> = {}): Options.AssertQueue => ({
  durable: true,
  arguments: { 'x-queue-type': 'quorum', ...extra },
})

/** Declares the two exchanges (idempotent). */
export async function assertExchanges(ch: Channel, t: Topology, timeout: number): Promise<void> {
  await guard(
    withTimeout(
      ch.assertExchange(t.exchange, 'topic', { durable: true }),
      timeout,
      timedOut(`declare exchange ${t.exchange}`, timeout),
    ),
    t.exchange,
  )
  await guard(
    withTimeout(
      ch.assertExchange(t.delayExchange, 'headers', { durable: true }),
      timeout,
      timedOut(`declare exchange ${t.delayExchange}`, timeout),
    ),
    t.delayExchange,
  )
}

/** Declares a group's queue, its dead-letter queue and bindings (idempotent). */
export async function assertGroup(
  ch: Channel,
  t: Topology,
  type: string,
  group: string,
  deliveryLimit: number,
  timeout: number,
): Promise<string> {
  const queue = t.groupQueue(type, group)
  const dlq = t.deadLetterQueue(group)
  await guard(
    withTimeout(ch.assertQueue(dlq, quorum()), timeout, timedOut(`declare queue ${dlq}`, timeout)),
    dlq,
  )
  const args = {
    'x-delivery-limit': deliveryLimit,
    'x-dead-letter-exchange': '',
    'x-dead-letter-routing-key': dlq,
    'x-dead-letter-strategy': 'at-least-once',
    'x-overflow': 'reject-publish',
  }
  await guard(
    withTimeout(ch.assertQueue(queue, quorum(args)), timeout, timedOut(`declare queue ${queue}`, timeout)),
    queue,
  )
  await withTimeout(ch.bindQueue(queue, t.exchange, type), timeout, timedOut(`bind ${queue}`, timeout))
  await withTimeout(
    ch.bindQueue(queue, t.exchange, t.retryKey(type, group)),
    timeout,
    timedOut(`bind ${queue}`, timeout),
  )
  return queue
}

/** Declares one ladder step (idempotent). */
export async function assertDelayStep(
  ch: Channel,
  t: Topology,
  step: number,
  timeout: number,
): Promise<void> {
  const queue = t.delayQueue(step)
  const args = {
    // Messages carry their own exact expiration; the queue TTL is only a ceiling.
    'x-message-ttl': step * 2,
    'x-dead-letter-exchange': t.exchange,
    'x-dead-letter-strategy': 'at-least-once',
    'x-overflow': 'reject-publish',
  }
  await guard(
    withTimeout(ch.assertQueue(queue, quorum(args)), timeout, timedOut(`declare queue ${queue}`, timeout)),
    queue,
  )
  await withTimeout(
    ch.bindQueue(queue, t.delayExchange, '', { 'x-match': 'all', [DELAY_HEADER]: String(step) }),
    timeout,
    timedOut(`bind ${queue}`, timeout),
  )
}

const INEQUIVALENT = /inequivalent arg '([^']+)'/

/** Turns the broker's 406 `inequivalent arg` into a coded error saying what differs. */
async function guard<T>(promise: Promise<T>, resource: string): Promise<T> {
  try {
    return await promise
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const match = INEQUIVALENT.exec(message)
    if ((error as { code?: unknown }).code === 406 || match !== null) {
      const argument = match?.[1]
      throw new QueueTopologyMismatchError(
        `${resource} already exists on the broker with a different ${argument ?? 'definition'} (${message.replace(/^.*PRECONDITION_FAILED - /, '')}); ` +
          'delete it (after moving its messages) or use another app/group name',
        { cause: error, resource, argument },
      )
    }
    throw error
  }
}

import { channels } from '../channels'
import type { WriteBehindDeadLetterEvent, WriteBehindFlushEvent } from '../channels'

/** Publishes one attempt at a batch on `scalekit:cache:write-behind:flush`; free while nobody listens. */
export function publishFlush(event: WriteBehindFlushEvent): void {
  if (channels.writeBehindFlush.hasSubscribers) channels.writeBehindFlush.publish(event)
}

/** Publishes a dead-lettered batch on `scalekit:cache:write-behind:dead-letter`; free while nobody listens. */
export function publishDeadLetter(event: WriteBehindDeadLetterEvent): void {
  if (channels.writeBehindDeadLetter.hasSubscribers) channels.writeBehindDeadLetter.publish(event)
}

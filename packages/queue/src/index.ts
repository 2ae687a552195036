export { createQueue } from './queue'
export type { Consumer, ConsumerHealth, PublishOptions, PublishReceipt, Queue, QueueHealth } from './queue'
export { defineMessage } from './message'
export type { MessageType, PayloadInput, PayloadOutput } from './message'
export type { StandardSchemaV1 } from './standard-schema'
export type { Handler, MessageContext } from './handler'
export { createMemoryDedupStore, createRedisDedupStore } from './dedup'
export type { DedupClaim, DedupRedisClient, DedupStore, RedisDedupStoreOptions } from './dedup'
export { getContext, runWithContext } from './context'
export type { QueueContext } from './context'
export { defaults } from './options'
export type { ConsumeOptions, DisconnectedPolicy, QueueOptions } from './options'
export type { Backoff } from './internal/backoff'
export type { GroupStats } from './drivers/transport'
export {
  NonRetryableError,
  QueueArgumentError,
  QueueBufferFullError,
  QueueClosedError,
  QueueDisconnectedError,
  QueueError,
  QueueHandlerTimeoutError,
  QueueMessageTooLargeError,
  QueueNackError,
  QueueOptionsError,
  QueuePublishTimeoutError,
  QueueTimeoutError,
  QueueTopologyMismatchError,
  QueueUnroutableError,
  QueueValidationError,
  errors,
} from './errors'
export { CHANNEL_PREFIX, channels } from './channels'
export type {
  ConsumeOutcome,
  DeadLetterReason,
  QueueConnectionEvent,
  QueueConsumeContext,
  QueueDeadLetterEvent,
  QueueDepthEvent,
  QueuePublishContext,
} from './channels'

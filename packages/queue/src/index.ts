export { createQueue } from './queue'
export type {
  Consumer,
  ConsumerHealth,
  DeadLetterMessage,
  PublishOptions,
  PublishReceipt,
  Queue,
  QueueHealth,
  TakeDeadLettersOptions,
} from './queue'
export { defineMessage } from './message'
export type { MessageType, PayloadInput, PayloadOutput } from './message'
export type { StandardSchemaV1 } from './standard-schema'
export type { Handler, MessageContext } from './handler'
export { createMemoryDedupStore, createRedisDedupStore } from './dedup'
export type {
  DedupClaim,
  DedupRedisClient,
  DedupStore,
  MemoryDedupStoreOptions,
  RedisDedupStoreOptions,
} from './dedup'
export { getContext, runWithContext } from './context'
export type { QueueContext } from './context'
export { defaults } from './options'
export type { ConsumeOptions, DisconnectedPolicy, QueueOptions } from './options'
export type { Backoff, BackoffInput, CloseOptions, Duration, HealthStatus, Logger } from '@scalekit/internal'
export type { ConnectedNodes, ConnectionState, GroupStats } from './drivers/transport'
export {
  NonRetryableError,
  QueueAccessRefusedError,
  QueueArgumentError,
  QueueBufferFullError,
  QueueClosedError,
  QueueDisconnectedError,
  QueueEncodeError,
  QueueError,
  QueueHandlerTimeoutError,
  QueueMessageTooLargeError,
  QueueNackError,
  QueueOptionsError,
  QueuePublishTimeoutError,
  QueueTimeoutError,
  QueueTopologyMismatchError,
  QueueUnreachableError,
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

import type { DeadLetterReason } from '../channels'

/** A message as the transports carry it; the payload is encoded JSON. */
export interface Envelope {
  readonly messageId: string
  readonly type: string
  readonly body: Buffer
  /** ms since the epoch, when `publish` was called. */
  readonly publishedAt: number
  readonly correlationId: string
  readonly traceparent: string
  /** The 1-based attempt this copy is for. */
  readonly attempt: number
}

/** What a send resolves to: the id of the message now held (the receipt `publish` returns). */
export interface Confirmed {
  readonly messageId: string
}

/** Where a send goes: every group of the message type, or one group (a retry). */
export type Target = { readonly kind: 'type' } | { readonly kind: 'group'; readonly group: string }

/** One send: resolves once the transport holds the message durably (broker confirm). */
export interface Send {
  readonly envelope: Envelope
  readonly target: Target
  readonly delayMs: number
  /** ms since the epoch after which the send rejects with `ERR_QUEUE_PUBLISH_TIMEOUT`. */
  readonly deadline: number
}

/** A dead-lettering: the message goes to its group's dead-letter queue with why. */
export interface DeadLetter {
  readonly envelope: Envelope
  readonly group: string
  readonly reason: DeadLetterReason
  readonly attempts: number
  readonly error: string | undefined
  readonly deadline: number
}

/** A dead letter as a transport hands it back: the message, its group and why it was dead-lettered. */
export interface DeadLetterRecord {
  readonly envelope: Envelope
  readonly group: string
  readonly reason: DeadLetterReason
  readonly attempts: number
  readonly error: string | undefined
}

/** One message handed to a consumer; settle it exactly once. */
export interface Delivery {
  /** `undefined` when the message could not be decoded (not ours, or corrupt). */
  readonly envelope: Envelope | undefined
  /** Raw id/type for a message that could not be decoded, for dead-lettering. */
  readonly rawId: string
  /** How many times the broker delivered it before (crashes, closed channels). */
  readonly redeliveries: number
  ack(): void
  /** Returns it to the queue at once (counts toward the delivery limit). */
  requeue(): void
}

/** What a consumer asks of a transport. */
export interface SubscribeSpec {
  readonly type: string
  readonly group: string
  readonly prefetch: number
}

/** A consumer's attachment to its queue. */
export interface Subscription {
  /** Whether deliveries are flowing now (false while disconnected or before the first attach). */
  readonly attached: boolean
  /** Resolves once first attached; rejects if the queue cannot be declared (e.g. a topology mismatch). */
  readonly ready: Promise<void>
  /** Stops new deliveries; unsettled ones can still be settled. */
  stop(): Promise<void>
  /** Returns anything unsettled to the queue and releases the subscription. */
  close(): Promise<void>
}

/**
 * The state of the broker connection: `idle` — not opened yet (it opens on the first publish or
 * consume); `connecting` — opening, or reconnecting after a loss; `connected`; `failed` — the
 * broker refused the login or the vhost, which retrying cannot fix (no more attempts); `closed`.
 */
export type ConnectionState = 'idle' | 'connecting' | 'connected' | 'failed' | 'closed'

/** Connection health as the transport sees it. */
export interface TransportHealth {
  readonly connection: ConnectionState
  readonly connected: boolean
  /** A publish now would be refused at once (buffer full, or the `reject` policy while away). */
  readonly refusing: boolean
  readonly blocked: boolean
  /** Messages waiting to be sent. */
  readonly buffered: number
  readonly bufferedBytes: number
  /** Sent, awaiting confirm. */
  readonly inFlight: number
  /** Why the last connection attempt failed, while not connected. */
  readonly error: { readonly code: string; readonly message: string } | undefined
  /** The broker nodes (`host:port`) the connections are open to. */
  readonly nodes: ConnectedNodes
}

/**
 * The broker nodes (`host:port`, never credentials) the client's connections are open to: the one
 * that declares and consumes, and each publishing connection's. On a cluster they may differ (each
 * connection fails over on its own). Empty while not connected, and for the memory transport.
 */
export interface ConnectedNodes {
  readonly consume: string | undefined
  readonly publish: readonly string[]
}

/** Depth and consumers of one group queue. */
export interface GroupStats {
  readonly type: string
  readonly group: string
  readonly messages: number
  readonly consumers: number
}

/** The seam between the queue's semantics (consumer.ts, queue.ts) and a backend. */
export interface Transport {
  /** Resolves with the message id once the message is held durably. */
  send(send: Send): Promise<Confirmed>
  deadLetter(dead: DeadLetter): Promise<Confirmed>
  subscribe(spec: SubscribeSpec, onDelivery: (delivery: Delivery) => void): Subscription
  /** Removes and returns up to `max` of `group`'s dead letters, oldest first. */
  takeDeadLetters(group: string, max: number): Promise<DeadLetterRecord[]>
  /** A synchronous snapshot: no I/O. */
  health(): TransportHealth
  /** Depth and consumers of the group queues this transport consumes from (asks the broker). */
  groupStats(): Promise<GroupStats[]>
  /** Waits for pending sends until `deadline`, rejects the rest, then disconnects. */
  close(deadline: number): Promise<void>
}

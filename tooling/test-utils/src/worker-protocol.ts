/**
 * The IPC messages between `runWorkers`/`spawnWorker` and `worker-report.ts`. Tagged so a worker's
 * own `process.send` traffic passes through to `onMessage` untouched.
 */
export const RESULT = 'scalekit:worker-result'
export const READY = 'scalekit:worker-ready'
export const GO = 'scalekit:worker-go'

/** A protocol message: `{ [TAG]: kind, value? }`. */
export const TAG = '__scalekitWorker'

export type ProtocolKind = typeof RESULT | typeof READY | typeof GO

export interface ProtocolMessage {
  readonly [TAG]: ProtocolKind
  readonly value?: unknown
}

export function protocolMessage(kind: ProtocolKind, value?: unknown): ProtocolMessage {
  return value === undefined ? { [TAG]: kind } : { [TAG]: kind, value }
}

export function protocolKind(message: unknown): ProtocolKind | undefined {
  if (typeof message !== 'object' || message === null || !(TAG in message)) return undefined
  const kind: unknown = (message as Record<string, unknown>)[TAG]
  return kind === RESULT || kind === READY || kind === GO ? kind : undefined
}

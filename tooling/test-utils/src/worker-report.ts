import { GO, READY, RESULT, protocolKind, protocolMessage } from './worker-protocol'

/**
 * The worker side of `runWorkers`/`spawnWorker`. Import it from `@scalekit/test-utils/worker` in a
 * worker script: that entry loads no database client, so the N processes start fast.
 */

/** This worker's 0-based index among the `count` spawned together (`WORKER_INDEX`). */
export function workerIndex(): number {
  return Number(process.env.WORKER_INDEX ?? '0')
}

/** How many workers were spawned together (`WORKER_COUNT`). */
export function workerCount(): number {
  return Number(process.env.WORKER_COUNT ?? '1')
}

/**
 * Sends this worker's result to the parent over IPC (structured clone: Maps, Buffers and bigints
 * survive). Resolves once sent, so the worker may exit right after.
 */
export async function reportResult(value: unknown): Promise<void> {
  await send(protocolMessage(RESULT, value))
}

/**
 * Tells the parent this worker is ready, then waits for its "go", which it sends once every worker
 * is ready (`startTogether: true`), so N processes hit a cold key at the same moment rather than
 * as each finishes booting. Without `startTogether` the parent answers at once.
 */
export async function waitForGo(): Promise<void> {
  const go = new Promise<void>((resolve) => {
    const onMessage = (message: unknown): void => {
      if (protocolKind(message) !== GO) return
      process.off('message', onMessage)
      resolve()
    }
    process.on('message', onMessage)
  })
  await send(protocolMessage(READY))
  await go
}

async function send(message: unknown): Promise<void> {
  if (process.send === undefined) {
    throw new Error(
      'No IPC channel: run this worker through runWorkers() or spawnWorker() from @scalekit/test-utils',
    )
  }
  await new Promise<void>((resolve, reject) => {
    process.send?.(message, (error: Error | null) => {
      if (error === null) resolve()
      else reject(error)
    })
  })
}

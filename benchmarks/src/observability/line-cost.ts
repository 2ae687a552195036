/**
 * CPU per access-like log line through the benchmark's destination, an unredacted child of
 * `createLogger()` (what the middleware writes its access line through), `createLogger()` itself
 * (redaction), and pino with a synchronous destination: `npx tsx src/observability/line-cost.ts`.
 * `process.cpuUsage()` counts every thread, so the asynchronous destination's thread-pool writes are in.
 */
import { createLogger } from '@scalekit/observability'
import pino from 'pino'

const LINES = 100_000
const destination = (sync: boolean): pino.DestinationStream =>
  pino.destination({ dest: '/dev/null', minLength: 4096, sync })
const loggers: Record<string, () => { info(obj: object, msg: string): void }> = {
  'pino, async destination': () => pino(destination(false)),
  'createLogger() (redaction)': () => createLogger({ destination: destination(false) }),
  'createLogger() child, no redaction': () =>
    createLogger({ destination: destination(false) }).child({}, { redact: [] }),
  'pino, sync destination': () => pino(destination(true)),
}
const line = (i: number): object => ({
  requestId: '5b7e2f0c-5a4e-4b8e-9f0e-6f3f1c2a9d10',
  traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
  spanId: '00f067aa0ba902b7',
  method: 'GET',
  route: '/users/:id',
  statusCode: 200,
  durationMs: i / 1000,
})
const pause = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

for (let round = 0; round < 3; round++)
  for (const [name, make] of Object.entries(loggers)) {
    const logger = make()
    for (let i = 0; i < 2000; i++) logger.info(line(i), 'request completed')
    await pause(50)
    const before = process.cpuUsage()
    for (let i = 0; i < LINES; i++) {
      logger.info(line(i), 'request completed')
      // Let the destination's writes complete as they would between requests.
      if (i % 64 === 0) await new Promise((resolve) => setImmediate(resolve))
    }
    await pause(100)
    const cpu = process.cpuUsage(before)
    console.log(
      `round ${round}  ${name.padEnd(36)} ${((cpu.user + cpu.system) / LINES).toFixed(2)} µs CPU a line`,
    )
  }

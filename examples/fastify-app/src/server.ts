import { createShutdown } from '@scalekit/observability'
import {
  createCatalogue,
  createServices,
  migrate,
  readConfig,
  startOrderWorker,
} from '@scalekit/example-app-core'
import { buildApp } from './app.js'

const config = readConfig()
const services = await createServices(config, { component: 'api' })
await migrate(services)
const catalogue = createCatalogue(services)
// The in-memory queue lives in this process: its worker must too. With RabbitMQ, run `npm run worker`.
const inProcessWorker = config.amqpUrl === undefined || process.env['WORKER_IN_PROCESS'] === '1'
if (inProcessWorker) startOrderWorker(services)

const app = await buildApp(services, catalogue)
const address = await app.listen({
  port: Number(process.env['PORT'] ?? 3000),
  host: process.env['HOST'] ?? '127.0.0.1',
})
const port = Number(new URL(address).port)
services.logger.info({ port, url: `http://127.0.0.1:${port}`, inProcessWorker }, 'listening')

const shutdown = createShutdown({
  health: services.health,
  readinessDelay: Number(process.env['READINESS_DELAY_MS'] ?? 0), // behind a load balancer: a few seconds
  timeout: '20s',
  logger: services.logger,
})
shutdown.server(app.server)
shutdown.drain(services.queue)
shutdown.close(services)

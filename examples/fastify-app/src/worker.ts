import { createShutdown } from '@scalekit/observability'
import { createServices, readConfig, startOrderWorker } from '@scalekit/example-app-core'

const config = readConfig()
if (config.amqpUrl === undefined || config.databaseUrl === undefined) {
  // The in-memory queue and the embedded Postgres live inside the API process, which runs the worker itself.
  console.error(
    'worker: set AMQP_URL and DATABASE_URL; without them the API process runs the worker in-process',
  )
  process.exit(1)
}
const services = await createServices(config, { component: 'worker' })
startOrderWorker(services)
services.logger.info('worker started')

const shutdown = createShutdown({ health: services.health, timeout: '20s', logger: services.logger })
shutdown.drain(services.queue)
shutdown.close(services)

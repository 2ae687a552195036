import { requireServices } from './services'

/**
 * vitest `globalSetup` of the integration project: with a base service down, every test would
 * wait out its own connect timeout; this fails the run within seconds instead, with the command
 * that starts the services.
 */
export default async function globalSetup(): Promise<void> {
  await requireServices('pg', 'redis', 'amqp')
}

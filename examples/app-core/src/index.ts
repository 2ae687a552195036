export { readConfig, describeModes } from './config.js'
export type { AppConfig } from './config.js'
export { startEmbeddedPostgres, EMBEDDED_POOL_SIZE } from './embedded-postgres.js'
export type { EmbeddedPostgres } from './embedded-postgres.js'
export { createServices } from './services.js'
export type { Services, OrderShards, Logger, Metrics, Health, LoadShedder } from './services.js'
export {
  createCatalogue,
  migrate,
  HttpError,
  OrderPlaced,
  demoUsers,
  confirmationSubject,
} from './catalogue.js'
export type { Catalogue, Product, Order } from './catalogue.js'
export { startOrderWorker } from './worker.js'
export { errorResponse } from './errors.js'

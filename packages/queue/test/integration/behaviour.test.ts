import { serviceUrls, uniqueName } from '@scalekit/test-utils'
import { createQueue } from '../../src/index'
import { behaviourSuite } from '../suite/behaviour'
import { deleteTopology } from './support/amqp-admin'

behaviourSuite('rabbitmq', () => {
  const app = uniqueName('queue_suite')
  return {
    create: (options) => createQueue({ ...options, app, url: serviceUrls.amqp }),
    cleanup: async (types, groups) => deleteTopology(app, types, groups),
  }
})

import { uniqueName } from '@scalekit/test-utils'
import { createQueue } from '../../src/index'
import { behaviourSuite } from '../suite/behaviour'

behaviourSuite('memory', () => {
  const app = uniqueName('queue_mem')
  return {
    create: (options) => createQueue({ ...options, app, url: 'memory:' }),
    cleanup: async () => Promise.resolve(),
  }
})

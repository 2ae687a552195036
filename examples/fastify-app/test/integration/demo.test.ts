import { demoSuite } from '@scalekit/example-app-core/test-support/demo'

demoSuite('fastify') // DEMO_APP=fastify npm run demo

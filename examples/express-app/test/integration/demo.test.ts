import { demoSuite } from '@scalekit/example-app-core/test-support/demo'

demoSuite('express') // the demo's default app

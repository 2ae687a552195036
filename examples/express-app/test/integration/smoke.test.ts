import { smokeSuite } from '@scalekit/example-app-core/test-support'

smokeSuite('express')

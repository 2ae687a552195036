export { QueueError, QueueOptionsError, errors } from './errors'
export { CHANNEL_PREFIX } from './channels'

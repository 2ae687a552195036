export { ObservabilityArgumentError, ObservabilityError, ObservabilityOptionsError, errors } from './errors'
export { CHANNEL_PREFIX } from './channels'

export { DbRouterError, DbRouterOptionsError, errors } from './errors'
export { CHANNEL_PREFIX } from './channels'

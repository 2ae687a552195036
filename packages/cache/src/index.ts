export { CacheError, CacheOptionsError, errors } from './errors'
export { CHANNEL_PREFIX } from './channels'

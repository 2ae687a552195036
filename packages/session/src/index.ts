export { SessionArgumentError, SessionError, SessionOptionsError, errors } from './errors'
export { CHANNEL_PREFIX } from './channels'

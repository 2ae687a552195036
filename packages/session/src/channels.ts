import { channelPrefix } from '@scalekit/internal'

/**
 * Every diagnostics channel of @scalekit/session is named `scalekit:session:<operation>`.
 * Channel names and payload types are public API; the operations that publish on them arrive with
 * the features that perform them.
 */
export const CHANNEL_PREFIX: 'scalekit:session' = channelPrefix('session')

import { channelPrefix } from '@scalekit/internal'

/**
 * Every diagnostics channel of @scalekit/observability is named `scalekit:observability:<operation>`.
 * Channel names and payload types are public API; the operations that publish on them arrive with
 * the features that perform them.
 */
export const CHANNEL_PREFIX: 'scalekit:observability' = channelPrefix('observability')

/**
 * Every diagnostics channel of @scalekit/db-router is named `scalekit:db:<operation>`.
 * Channel names and payload types are public API; the operations that publish on them arrive with
 * the features that perform them.
 */
export const CHANNEL_PREFIX = 'scalekit:db' as const

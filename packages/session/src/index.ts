export {
  SessionApiKeyError,
  SessionArgumentError,
  SessionClosedError,
  SessionCrossSiteError,
  SessionError,
  SessionForbiddenError,
  SessionKeysUnavailableError,
  SessionOptionsError,
  SessionRevokedError,
  SessionStoreError,
  SessionTokenError,
  SessionUnauthenticatedError,
  errors,
} from './errors'
export type { ApiKeyReason, ForbiddenReason, RevokedReason, TokenReason } from './errors'
export { CHANNEL_PREFIX, channels } from './channels'
export type {
  ApiKeyEvent,
  IssueEvent,
  RefreshEvent,
  ReuseEvent,
  RevokeEvent,
  SessionEvent,
  TokenKind,
  VerifyEvent,
} from './channels'
export { httpStatusOf } from './http-status'
export type { RedisClient, RedisSubscriber } from './redis'
export { createTokens } from './tokens/tokens'
export { TOKEN_TYPES } from './tokens/claims'
export { tokenDefaults } from './tokens/options'
export type { TokensOptions } from './tokens/options'
export type { KeySet } from './tokens/keys'
export type {
  AccessClaims,
  JsonValue,
  RevokeTarget,
  ServiceClaims,
  ServiceTokenRequest,
  TokenPair,
  Tokens,
  TokensHealth,
  TokenSubject,
} from './tokens/types'
export { createMemoryStore, createRedisStore, createSessions, sessionDefaults } from './sessions/sessions'
export type {
  RedisStoreOptions,
  SessionInfo,
  SessionRecord,
  Sessions,
  SessionsHealth,
  SessionsOptions,
} from './sessions/sessions'
export type { SessionStore, StoredSession, StoredSessionInfo } from './sessions/store'
export { currentAuth, currentSession } from './context'
export type { AuthenticateOptions, Principal, Scheme } from './adapters/credentials'
export type { SessionHandle } from './adapters/session-handle'
export type { CookieOptions } from './adapters/cookies'
export type { ApiKeyInfo, ApiKeys, ApiKeysHealth, IssuedApiKey } from './api-keys/types'
export { createApiKeys } from './api-keys/api-keys'
export type { ApiKeysOptions } from './api-keys/api-keys'
export { createRemoteVerifier } from './tokens/remote'
export type { RemoteVerifier, RemoteVerifierOptions } from './tokens/remote'

// Names the README's examples take as given (scripts/check-docs.ts compiles each block with these).
import type { KeySet, Sessions, Tokens } from '@scalekit/session'
import type { Redis } from 'ioredis'

declare global {
  /** An ioredis client the app owns. */
  const redis: Redis
  /** The signing keys: a JWK Set of private keys, each with a kid (from a secret store). */
  const keys: KeySet
  /** The user who just logged in. */
  const user: { readonly id: string; readonly roles: readonly string[] }
  /** Token service and server sessions created as in the quick starts. */
  const tokens: Tokens
  const sessions: Sessions
  const refreshToken: string
  const accessToken: string
  const sessionId: string
  const handle: string
  const COOKIE_SECRET: string
  function checkPassword(body: unknown): Promise<{ readonly id: string } | undefined>
}

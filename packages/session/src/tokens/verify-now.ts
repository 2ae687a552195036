import type { AccessClaims } from './types'

/**
 * The adapters' way in: `verify()`'s claims, as the claims themselves when the token service knows
 * them at once (a hit of the verified-token cache, after every check a cached verify makes) and a
 * promise otherwise, so a request with a known token goes on in the same tick without a promise.
 * Throws what `verify()` rejects with. Not exported from the package; a module of its own so the
 * adapters import the symbol without the token service.
 */
export const verifyNow: unique symbol = Symbol('verifyNow')

/** A token service with {@link verifyNow} (every one `createTokens` makes). */
export interface VerifiesNow {
  [verifyNow](token: string): AccessClaims | Promise<AccessClaims>
}

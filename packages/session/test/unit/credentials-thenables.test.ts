import { describe, expect, it } from 'vitest'
import type { JWTPayload } from 'jose'
import { authenticateRequest, resolveAuthenticate } from '../../src/adapters/credentials'
import type { Principal } from '../../src/adapters/credentials'
import type { RemoteVerifier, Tokens } from '../../src/index'

/** A promise of another library: a thenable whose `then` gives another such thenable, never a native Promise. */
function foreign<T>(promise: PromiseLike<T>): PromiseLike<T> {
  return {
    then: (onFulfilled, onRejected) => foreign(Promise.resolve(promise).then(onFulfilled, onRejected)),
  }
}

function authenticated(
  tokens: Tokens | RemoteVerifier,
  roles: string[] = [],
): Promise<{ principal: Principal }> {
  const config = resolveAuthenticate({ tokens, roles })
  return new Promise((resolve, reject) => {
    // Boxed: resolving with the principal itself would follow it if it were a thenable.
    authenticateRequest(
      { authorization: 'Bearer a.b.c' },
      config,
      (principal) => {
        resolve({ principal })
      },
      reject,
    )
  })
}

const claims = { sub: 'alice', roles: ['admin'] }

describe('authenticate with a verifier whose promises are not native ones', () => {
  it('waits for a remote verifier’s thenable and hands on its principal', async () => {
    const remote = {
      verify: (): PromiseLike<JWTPayload> => foreign(Promise.resolve(claims)),
    } as unknown as RemoteVerifier
    expect((await authenticated(remote, ['admin'])).principal).toMatchObject({
      scheme: 'bearer',
      remote: true,
      sub: 'alice',
    })
  })

  it('waits for a token service’s thenable (no verifyNow) and checks its roles', async () => {
    const tokens = {
      verify: () => foreign(Promise.resolve(claims)),
      verifyServiceToken: () => foreign(Promise.resolve(claims)),
    } as unknown as Tokens
    expect((await authenticated(tokens)).principal).toMatchObject({
      scheme: 'bearer',
      remote: false,
      sub: 'alice',
    })
    await expect(authenticated(tokens, ['owner'])).rejects.toMatchObject({ code: 'ERR_SESSION_FORBIDDEN' })
  })
})

import { randomUUID } from 'node:crypto'
import { CloseGate, describeValue } from '@scalekit/internal'
import type { CloseOptions } from '@scalekit/internal'
import { SignJWT } from 'jose'
import type { JWTPayload } from 'jose'
import { channels, publish } from '../channels'
import type { IssueEvent, RefreshEvent, ReuseEvent, TokenKind, VerifyEvent } from '../channels'
import {
  SessionArgumentError,
  SessionClosedError,
  SessionError,
  SessionOptionsError,
  SessionRevokedError,
  SessionTokenError,
} from '../errors'
import type { RevokedReason } from '../errors'
import { args, checkSubject, TOKEN_TYPES } from './claims'
import type { LoginContext } from './claims'
import { RedisFamilies } from './families'
import type { FamilyStore, Successor } from './families'
import { checkKeySet, importKeyRing } from './keys'
import type { KeyRing, KeySet } from './keys'
import { resolveTokensOptions } from './options'
import type { ResolvedTokensOptions, TokensOptions } from './options'
import { MemoryFamilies } from './memory-families'
import { MemoryRevocations } from './memory-revocations'
import { RevocationState } from './revocation'
import type { Revocations } from './revocation-list'
import type {
  AccessClaims,
  RevokeTarget,
  ServiceClaims,
  ServiceTokenRequest,
  TokenPair,
  Tokens,
  TokensHealth,
  TokenSubject,
} from './types'
import { VerifiedCache } from './verified-cache'
import { checkHeader, verifyJwt } from './verify'
import type { VerifyRules } from './verify'
import { verifyNow } from './verify-now'
import type { VerifiesNow } from './verify-now'

class TokenService implements Tokens, VerifiesNow {
  readonly #o: ResolvedTokensOptions
  readonly #gate: CloseGate
  readonly #cache: VerifiedCache
  readonly #families: FamilyStore | undefined
  readonly #revocation: Revocations | undefined
  #ring: Promise<KeyRing>
  /** The ring once imported: a verify reads it without awaiting (a turn of the microtask queue). */
  #ringNow: KeyRing | undefined
  readonly #rules: Readonly<Record<'access' | 'refresh', VerifyRules>>

  constructor(options: TokensOptions) {
    const o = resolveTokensOptions(options)
    this.#o = o
    this.#cache = new VerifiedCache(o.cacheSize)
    const ring = importKeyRing(o.keySet)
    this.#ring = ring
    // A key that jose cannot import after node:crypto parsed it surfaces on the first call.
    ring.then(
      (imported) => {
        if (this.#ring === ring) this.#ringNow = imported
      },
      () => undefined,
    )
    const base = {
      algorithms: o.keySet.algorithms,
      issuer: o.issuer,
      clockToleranceSec: o.clockToleranceSec,
      maxTokenSize: o.maxTokenSize,
    }
    this.#rules = {
      access: {
        ...base,
        audience: o.audience,
        typ: TOKEN_TYPES.access,
        requiredClaims: ['sub', 'exp', 'iat', 'jti', 'sid'],
      },
      refresh: {
        ...base,
        audience: o.issuer,
        typ: TOKEN_TYPES.refresh,
        requiredClaims: ['sub', 'exp', 'iat', 'jti', 'sid'],
      },
    }
    const epochKeepMs = Math.max(o.accessTtlMs, o.refreshTtlMs, o.serviceTtlMs) + o.clockToleranceSec * 1000
    const onChange = (): void => {
      this.#cache.clear()
    }
    if (o.redis !== undefined) {
      this.#families = new RedisFamilies(o.redis, o.prefix, o.sweep, o.timeoutMs)
      this.#revocation = new RevocationState({
        redis: o.redis,
        prefix: o.prefix,
        timeoutMs: o.timeoutMs,
        syncMs: o.syncMs,
        epochKeepMs,
        sweep: o.sweep,
        warner: o.warner,
        onChange,
      })
    } else if (o.store === 'memory') {
      this.#families = new MemoryFamilies()
      this.#revocation = new MemoryRevocations(epochKeepMs, onChange)
    }
    this.#revocation?.start()
    this.#gate = new CloseGate(SessionArgumentError, async () => {
      await this.#revocation?.stop()
      this.#o.sweep.clear()
      this.#cache.clear()
    })
  }

  async issue(subject: TokenSubject): Promise<TokenPair> {
    this.#open()
    const checked = checkSubject(subject, 'issue()')
    if (checked.sub === undefined) args.fail('issue(): sub is required')
    const ring = await this.#ring
    const family = randomUUID()
    const first = this.#successor(this.#issueTime(checked.sub))
    await this.#families?.start(family, checked.sub, first, this.#o.refreshTtlMs, Date.now())
    return this.#pair(ring, checked.sub, family, checked, first)
  }

  async verify(token: string): Promise<AccessClaims> {
    return this[verifyNow](token)
  }

  [verifyNow](token: string): AccessClaims | Promise<AccessClaims> {
    return this.#verifyKind('access', token, this.#rules.access) as AccessClaims | Promise<AccessClaims>
  }

  async refresh(refreshToken: string, update?: Omit<TokenSubject, 'sub'>): Promise<TokenPair> {
    this.#open()
    const changed = update === undefined ? undefined : checkSubject(update, 'refresh()')
    try {
      const pair = await this.#refresh(refreshToken, changed)
      return pair
    } catch (error) {
      publish(channels.refresh, (): RefreshEvent => ({
        outcome: 'refused',
        code: (error as SessionError).code,
        reason: (error as { reason?: string }).reason,
      }))
      throw error
    }
  }

  async revoke(target: RevokeTarget): Promise<void> {
    this.#open()
    const given: unknown = target
    if (typeof given !== 'object' || given === null)
      args.fail(`revoke() takes { sub }, { token } or { jti }, got ${describeValue(given)}`)
    const revocation = this.#revocation
    if (revocation === undefined)
      args.fail(
        "revoke() needs the redis option (or store: 'memory'): without it tokens are stateless and live until they expire",
      )
    if ('sub' in target) {
      if (typeof target.sub !== 'string' || target.sub === '')
        args.fail('revoke({ sub }): sub must be a non-empty string')
      await revocation.revoke('user', target.sub, Date.now())
    } else if ('jti' in target) {
      if (typeof target.jti !== 'string' || target.jti === '')
        args.fail('revoke({ jti }): jti must be a non-empty string')
      const until = target.expiresAt ?? Date.now() + this.#o.accessTtlMs
      if (!Number.isFinite(until))
        args.fail('revoke({ jti, expiresAt }): expiresAt must be ms since the epoch')
      await revocation.revoke('token', target.jti, until)
    } else if ('token' in target) {
      await this.#revokeToken(target.token, revocation)
    } else {
      args.fail('revoke() takes { sub }, { token } or { jti }')
    }
  }

  async issueServiceToken(request: ServiceTokenRequest): Promise<string> {
    this.#open()
    const given: unknown = request
    if (typeof given !== 'object' || given === null)
      args.fail(`issueServiceToken() takes { sub, audience, scopes? }, got ${describeValue(given)}`)
    const { sub, audience, scopes = [] } = request
    if (typeof sub !== 'string' || sub === '')
      args.fail('issueServiceToken(): sub must be a non-empty string')
    if (typeof audience !== 'string' || audience === '')
      args.fail('issueServiceToken(): audience must be a non-empty string')
    if (!Array.isArray(scopes) || scopes.some((s) => typeof s !== 'string' || s === '' || /\s/.test(s)))
      args.fail('issueServiceToken(): scopes must be a list of strings without spaces')
    const ttlMs = args.duration('issueServiceToken(): ttl', request.ttl, this.#o.serviceTtlMs, { min: 1000 })
    const ring = await this.#ring
    const now = Date.now()
    return this.#sign(ring, 'service', {
      sub,
      aud: audience,
      scope: scopes.join(' '),
      jti: randomUUID(),
      iat: now / 1000,
      exp: Math.floor((now + ttlMs) / 1000),
    })
  }

  async verifyServiceToken(token: string, audience: string | readonly string[]): Promise<ServiceClaims> {
    this.#open()
    const list = typeof audience === 'string' ? [audience] : audience
    if (!Array.isArray(list) || list.length === 0 || list.some((a) => typeof a !== 'string' || a === ''))
      args.fail(`verifyServiceToken(): audience must be this service's name, got ${describeValue(audience)}`)
    const rules: VerifyRules = {
      ...this.#rules.access,
      audience: list,
      typ: TOKEN_TYPES.service,
      requiredClaims: ['sub', 'exp', 'iat', 'jti'],
    }
    const payload = await this.#verifyKind('service', token, rules, `service\0${list.join('\0')}`)
    const scope = typeof payload['scope'] === 'string' ? payload['scope'] : ''
    return { ...payload, scopes: scope === '' ? [] : scope.split(' ') } as ServiceClaims
  }

  async updateKeys(keys: KeySet): Promise<void> {
    this.#open()
    const checked = checkKeySet(keys, this.#o.keySet.algorithms, 'updateKeys(keys)', (message) => {
      throw new SessionArgumentError(message)
    })
    const ring = await importKeyRing(checked)
    this.#ring = Promise.resolve(ring)
    this.#ringNow = ring
    this.#cache.clear()
  }

  async publicKeys(): Promise<KeySet> {
    this.#open()
    return (await this.#ring).publicSet
  }

  health(): TokensHealth {
    const revocation = this.#revocation
    const degraded = revocation !== undefined && !(revocation.synced && revocation.subscribed)
    return {
      status: this.#gate.closed ? 'closed' : degraded ? 'degraded' : 'ok',
      store: this.#o.store,
      stateless: revocation === undefined,
      revocation:
        this.#o.store !== 'redis' || revocation === undefined
          ? undefined
          : { synced: revocation.synced, subscribed: revocation.subscribed },
      cachedTokens: this.#cache.size,
    }
  }

  async checkHealth(): Promise<TokensHealth> {
    if (!this.#gate.closed) await this.#revocation?.sync(true)
    return this.health()
  }

  close(options?: CloseOptions): Promise<void> {
    return this.#gate.close(options)
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.close()
  }

  #open(): void {
    if (this.#gate.closed) throw new SessionClosedError('the token service is closed')
  }

  /**
   * Now in ms for a token of `sub`: past the user's known "log out everywhere" time, so a login in
   * the same millisecond as that revocation is not caught by it (tokens up to it are revoked).
   */
  #issueTime(sub: string, epoch?: number): number {
    const known = Math.max(epoch ?? -1, this.#revocation?.epochKnown(sub) ?? -1)
    return Math.max(Date.now(), known + 1)
  }

  #successor(now: number): Successor {
    return { jti: randomUUID(), iat: now / 1000, exp: Math.floor((now + this.#o.refreshTtlMs) / 1000) }
  }

  async #pair(
    ring: KeyRing,
    sub: string,
    family: string,
    login: LoginContext,
    refresh: Successor,
  ): Promise<TokenPair> {
    const now = Math.max(this.#issueTime(sub), Math.round(refresh.iat * 1000))
    const aud = this.#o.audience.length === 1 ? this.#o.audience[0] : [...this.#o.audience]
    const [accessToken, refreshToken] = await Promise.all([
      this.#sign(ring, 'access', {
        ...login.claims,
        sub,
        aud,
        jti: randomUUID(),
        sid: family,
        roles: [...login.roles],
        iat: now / 1000,
        exp: Math.floor((now + this.#o.accessTtlMs) / 1000),
      }),
      this.#sign(ring, 'refresh', {
        sub,
        aud: this.#o.issuer,
        jti: refresh.jti,
        sid: family,
        ctx: { roles: [...login.roles], claims: login.claims },
        iat: refresh.iat,
        exp: refresh.exp,
      }),
    ])
    return {
      accessToken,
      refreshToken,
      tokenType: 'Bearer',
      expiresIn: Math.floor(this.#o.accessTtlMs / 1000),
      refreshExpiresIn: Math.max(0, refresh.exp - Math.floor(now / 1000)),
    }
  }

  async #sign(ring: KeyRing, kind: TokenKind, payload: JWTPayload): Promise<string> {
    const { kid, alg, key } = ring.signer
    const token = await new SignJWT({ ...payload, iss: this.#o.issuer })
      .setProtectedHeader({ alg, kid, typ: TOKEN_TYPES[kind] })
      .sign(key)
    publish(channels.issue, (): IssueEvent => ({ kind, kid }))
    return token
  }

  /**
   * One verification: a hit of the verified-token cache (same token, same rules) skips the signature
   * and claim checks and answers at once; the shape and revocation checks run either way. `scope`
   * names the rules a cache entry answers for (the kind, and the audience of a service token).
   * Throws (a hit that fails its checks, a closed service) or returns a promise (a miss).
   */
  #verifyKind(
    kind: TokenKind,
    token: string,
    rules: VerifyRules,
    scope: string = kind,
  ): JWTPayload | Promise<JWTPayload> {
    this.#open()
    const cacheKey =
      this.#o.cacheSize > 0 &&
      kind !== 'refresh' &&
      typeof token === 'string' &&
      token.length <= rules.maxTokenSize
        ? VerifiedCache.keyOf(token)
        : undefined
    const hit = cacheKey === undefined ? undefined : this.#cache.get(cacheKey, scope)
    if (hit !== undefined) return this.#accept(kind, hit, true)
    // A clear (keys or revocations changed) while the signature is checked keeps the result out.
    const generation = this.#cache.generation
    const ring = this.#ringNow
    const verified =
      ring === undefined
        ? this.#ring.then((imported) => verifyJwt(token, imported.lookup, rules))
        : verifyJwt(token, ring.lookup, rules)
    return verified.then(
      (payload) => {
        this.#accept(kind, payload, false)
        if (cacheKey !== undefined) this.#cache.set(cacheKey, scope, payload, generation)
        return payload
      },
      (error: unknown) => this.#refuse(kind, error, false),
    )
  }

  /** The checks every verified payload passes, cached or not, and its `verify` event. */
  #accept(kind: TokenKind, payload: JWTPayload, cached: boolean): JWTPayload {
    try {
      this.#checkShape(kind, payload)
      this.#checkRevoked(payload)
    } catch (error) {
      this.#refuse(kind, error, cached)
    }
    publish(channels.verify, (): VerifyEvent => ({ kind, outcome: 'valid', cached }))
    return payload
  }

  #refuse(kind: TokenKind, error: unknown, cached: boolean): never {
    publish(channels.verify, (): VerifyEvent => ({
      kind,
      outcome: 'refused',
      code: (error as SessionError).code,
      reason: (error as { reason?: string }).reason,
      cached,
    }))
    throw error
  }

  #checkShape(kind: TokenKind, payload: JWTPayload): void {
    let bad: string | undefined
    if (typeof payload.sub !== 'string' || typeof payload.jti !== 'string' || typeof payload.iat !== 'number')
      bad = 'sub, jti or iat is not of the right type'
    else if (kind !== 'service' && typeof payload['sid'] !== 'string') bad = 'sid is not a string'
    else if (
      kind === 'access' &&
      !(Array.isArray(payload['roles']) && payload['roles'].every((r) => typeof r === 'string'))
    )
      bad = 'roles is not a list of strings'
    if (bad !== undefined) throw new SessionTokenError(`the ${kind} token's ${bad}`, { reason: 'claims' })
  }

  #checkRevoked(payload: JWTPayload): void {
    const reason = this.#revocation?.check(payload.jti, payload['sid'], payload.sub, payload.iat)
    if (reason !== undefined) throw new SessionRevokedError(`the token was revoked (${reason})`, { reason })
  }

  async #refresh(refreshToken: string, changed: LoginContext | undefined): Promise<TokenPair> {
    const ring = await this.#ring
    const payload = await this.#verifyKind('refresh', refreshToken, this.#rules.refresh)
    const sub = payload.sub as string
    const family = payload['sid'] as string
    const ctx = payload['ctx'] as { roles?: unknown; claims?: unknown } | undefined
    const login: LoginContext = changed ?? {
      roles: Array.isArray(ctx?.roles) ? (ctx.roles as string[]) : [],
      claims:
        typeof ctx?.claims === 'object' && ctx.claims !== null ? (ctx.claims as LoginContext['claims']) : {},
    }
    const families = this.#families
    const revocation = this.#revocation
    if (families === undefined || revocation === undefined) {
      // Stateless: no reuse detection is possible; the new pair continues the same login.
      publish(channels.refresh, (): RefreshEvent => ({ outcome: 'rotated' }))
      return this.#pair(ring, sub, family, login, this.#successor(this.#issueTime(sub)))
    }
    // The epoch in Redis, read beside the rotation: a refresh never waits for the push.
    const epoch = await revocation.epochOf(sub)
    if (epoch !== undefined && Math.round((payload.iat as number) * 1000) <= epoch) this.#revoked('user')
    const next = this.#successor(this.#issueTime(sub, epoch))
    const rotation = await families.rotate(
      family,
      payload.jti as string,
      next,
      this.#o.graceMs,
      this.#o.refreshTtlMs,
      Date.now(),
    )
    switch (rotation.outcome) {
      case 'rotated':
        publish(channels.refresh, (): RefreshEvent => ({ outcome: 'rotated' }))
        return this.#pair(ring, sub, family, login, next)
      case 'grace':
        publish(channels.refresh, (): RefreshEvent => ({ outcome: 'grace' }))
        return this.#pair(ring, sub, family, login, rotation)
      case 'reused':
        publish(channels.reuse, (): ReuseEvent => ({ retiredForMs: rotation.retiredForMs }))
        this.#o.warner.warn(
          'reuse',
          { code: 'ERR_SESSION_REVOKED', reason: 'reuse' },
          'a retired refresh token was presented again: its family is revoked',
        )
        await revocation.revoke('family', family, Date.now() + this.#o.refreshTtlMs)
        return this.#revoked('reuse')
      default:
        return this.#revoked('family')
    }
  }

  #revoked(reason: RevokedReason): never {
    throw new SessionRevokedError(`the refresh token was revoked (${reason})`, { reason })
  }

  async #revokeToken(token: string, revocation: Revocations): Promise<void> {
    const header = checkHeader(token, this.#rules.access)
    const kind = header.typ?.toLowerCase() === TOKEN_TYPES.refresh ? 'refresh' : 'access'
    let payload: JWTPayload
    try {
      payload = await verifyJwt(token, (await this.#ring).lookup, this.#rules[kind])
    } catch (error) {
      // An expired token is already dead: nothing to revoke.
      if (error instanceof SessionTokenError && error.reason === 'expired') return
      throw error
    }
    if (kind === 'access') {
      await revocation.revoke('token', payload.jti as string, (payload.exp as number) * 1000)
      return
    }
    const family = payload['sid'] as string
    await Promise.all([
      this.#families?.end(family),
      revocation.revoke('family', family, Date.now() + this.#o.refreshTtlMs),
    ])
  }
}

/**
 * Creates the token service: access tokens (`at+jwt`, RFC 9068), refresh tokens (`rt+jwt`) and
 * service tokens, signed by the first key of `keys` and verified against the whole set and the
 * algorithm allow-list. With `redis`, refresh tokens rotate with reuse detection and tokens can be
 * revoked on every instance; with `store: 'memory'`, the same in this process only; otherwise tokens
 * are stateless and live until they expire.
 *
 * ```ts
 * const tokens = createTokens({ issuer: 'https://auth.example.com', audience: 'api', keys, redis })
 * const { accessToken, refreshToken } = await tokens.issue({ sub: user.id, roles: ['admin'] })
 * ```
 * @throws SessionOptionsError when an option is invalid.
 */
export function createTokens(options: TokensOptions): Tokens {
  try {
    return new TokenService(options)
  } catch (error) {
    if (error instanceof SessionError) throw error
    throw new SessionOptionsError(`createTokens(): ${(error as Error).message}`, { cause: error })
  }
}

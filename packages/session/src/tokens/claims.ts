import { createChecks, describeValue } from '@scalekit/internal'
import type { Checks } from '@scalekit/internal'
import type { TokenKind } from '../channels'
import { SessionArgumentError } from '../errors'
import type { JsonValue, TokenSubject } from './types'

/** The `typ` header of each kind: distinct, so one kind never passes for another (RFC 8725 §3.11). */
export const TOKEN_TYPES: Readonly<Record<TokenKind, string>> = {
  access: 'at+jwt',
  refresh: 'rt+jwt',
  service: 'service+jwt',
}

/** Claims the package sets itself; `claims` may not carry them. */
const REGISTERED = new Set([
  'iss',
  'sub',
  'aud',
  'exp',
  'nbf',
  'iat',
  'jti',
  'sid',
  'roles',
  'scope',
  'ctx',
  'typ',
  'cnf',
])

export const args: Checks = createChecks(SessionArgumentError)

/** What a refresh token remembers of its login, to mint the next access token. */
export interface LoginContext {
  readonly roles: readonly string[]
  readonly claims: Readonly<Record<string, JsonValue>>
}

export function checkSubject(subject: unknown, what: string): LoginContext & { sub?: string } {
  if (typeof subject !== 'object' || subject === null)
    args.fail(`${what} takes an object, got ${describeValue(subject)}`)
  const { sub, roles = [], claims = {} } = subject as Partial<TokenSubject>
  if (sub !== undefined && (typeof sub !== 'string' || sub === ''))
    args.fail(`${what}: sub must be a non-empty string, got ${describeValue(sub)}`)
  if (!Array.isArray(roles) || roles.some((r) => typeof r !== 'string'))
    args.fail(`${what}: roles must be a list of strings, got ${describeValue(roles)}`)
  const given: unknown = claims
  if (typeof given !== 'object' || given === null || Array.isArray(given))
    args.fail(`${what}: claims must be an object, got ${describeValue(claims)}`)
  for (const name of Object.keys(claims)) {
    if (REGISTERED.has(name)) args.fail(`${what}: claims must not set the registered claim "${name}"`)
  }
  return { ...(sub === undefined ? {} : { sub }), roles, claims }
}

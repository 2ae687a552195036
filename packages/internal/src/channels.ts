/**
 * The name of a diagnostics channel: `scalekit:<package>:<operation>`. Every channel of every package
 * is named through this, so the scheme cannot drift.
 */
export function channelName<P extends string, O extends string>(pkg: P, operation: O): `scalekit:${P}:${O}` {
  return `scalekit:${pkg}:${operation}`
}

/** The prefix every channel of `pkg` starts with: `scalekit:<package>`. */
export function channelPrefix<P extends string>(pkg: P): `scalekit:${P}` {
  return `scalekit:${pkg}`
}

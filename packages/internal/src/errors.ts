/**
 * What every scalekit error class is: an `Error` with a stable `code` (on the class and on each
 * instance) and the `cause` it wraps. Each package derives its own base from it (`CacheError`,
 * `QueueError`…), so `instanceof` stays per package: this class is bundled into each one.
 */
export class CodedError extends Error {
  /** The stable code of this class of error. */
  static readonly code: string = 'ERR_SCALEKIT'
  /** The stable code of this error, `ERR_<PACKAGE>_<WHAT>`: branch on it (messages change). */
  readonly code: string

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = new.target.code
  }
}

/** A package's error classes keyed by their codes. */
export type ErrorMap = Readonly<Record<string, typeof CodedError>>

/**
 * Returns `map` after proving at load time that each key is its class's `code` and that every class
 * derives from the first one (the package's base), so the exported `errors` map cannot drift.
 */
export function defineErrors<M extends ErrorMap>(map: M): M {
  const classes = Object.values(map)
  const base = classes[0]
  for (const [code, ErrorClass] of Object.entries(map)) {
    if (ErrorClass.code !== code)
      throw new TypeError(`errors map: ${code} names ${ErrorClass.name}, whose code is ${ErrorClass.code}`)
    if (base !== undefined && ErrorClass !== base && !(ErrorClass.prototype instanceof base)) {
      throw new TypeError(`errors map: ${ErrorClass.name} does not derive from ${base.name}`)
    }
  }
  return map
}

/** Constructs a package's coded error; what the validators and helpers take to throw the package's own class. */
export type ErrorClass = new (message: string, options?: { cause?: unknown }) => Error

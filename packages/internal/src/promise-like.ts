/**
 * Whether `value` is a promise (any thenable: a native one or another library's) rather than the value
 * itself — for code that answers at once when it can and hands on a promise otherwise.
 */
export function isPromiseLike<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  // A thenable may be a function (Promises/A+).
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

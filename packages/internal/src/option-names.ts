import type { Checks } from './validators'

/**
 * Fails (through the package's own `fail`) on a name in `given` that is not in `known`, naming it and
 * the known name it resembles — so a misspelled option (`ttL`, `lookupfunctions`) is refused at
 * construction instead of being silently ignored. `where` is the group (`'health'`), `''` at the top.
 */
export function onlyKnownOptions(
  checks: Pick<Checks, 'fail'>,
  where: string,
  given: object,
  known: readonly string[],
): void {
  for (const name of Object.keys(given)) {
    if (known.includes(name)) continue
    const near = known.find((k) => k.toLowerCase() === name.toLowerCase())
    checks.fail(
      `${where === '' ? '' : `${where}.`}${name} is not an option${near === undefined ? '' : ` (did you mean ${near}?)`}; known: ${known.join(', ')}`,
    )
  }
}

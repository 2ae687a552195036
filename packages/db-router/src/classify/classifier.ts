import { loadModule, parseSync } from 'libpg-query'
import { isReadOnlyVolatile } from './functions'
import type { FunctionRef } from './tree'
import { classifyTree } from './tree'

/** Where a statement goes, and why (the `classification` of `scalekit:db-router:query`). */
export interface Decision {
  readonly target: 'primary' | 'replica'
  readonly reason: string
  /** A single statement whose commit LSN can be captured in the same round trip (`BEGIN; stmt; COMMIT; SELECT lsn`). */
  readonly wrappable: boolean
  /**
   * The transaction-control statement the text contains (`BEGIN`, `COMMIT`, `SAVEPOINT`…), which
   * `db.query()` refuses: on a pooled connection it would leave the session in a transaction no
   * later call knows about. Undefined for every other statement.
   */
  readonly transactionControl: string | undefined
}

/** Function rows from `pg_proc` for the given names. */
export interface FunctionRow {
  readonly name: string
  readonly schema: string
  /** `provolatile`: `i` immutable, `s` stable, `v` volatile. */
  readonly volatility: string
}

/** Looks functions up (in `pg_proc` on the primary); rejects when the lookup fails. */
export type FunctionLookup = (names: readonly string[]) => Promise<readonly FunctionRow[]>

/** Options of {@link Classifier}. */
export interface ClassifierOptions {
  readonly readFunctions: readonly string[]
  readonly writeFunctions: readonly string[]
  /** Omitted: unknown functions (not built-in writers, not listed) send the statement to the primary. */
  readonly lookup?: FunctionLookup | undefined
  readonly cacheSize: number
}

/** Statements longer than this are classified every time rather than kept in the cache. */
const MAX_CACHED_TEXT = 16 * 1024

let parserReady: Promise<void> | undefined
let parserLoaded = false

/** Loads the WASM Postgres parser once per process (about 120 ms of WebAssembly start-up). */
function loadParser(): Promise<void> {
  parserReady ??= loadModule().then(() => {
    parserLoaded = true
  })
  return parserReady
}

/** True once the parser is loaded in this process: the next classification pays nothing for it. */
export function isParserLoaded(): boolean {
  return parserLoaded
}

/**
 * Statement classification with the real Postgres parser (libpg_query, WASM), cached by text.
 * Conservative: a statement that does not parse, or that is not provably a read, goes to the primary.
 */
export class Classifier {
  readonly #cache = new Map<string, Decision>()
  readonly #functions = new Map<string, 'read' | 'write'>()
  readonly #reads: ReadonlySet<string>
  readonly #writes: ReadonlySet<string>
  readonly #lookup: FunctionLookup | undefined
  readonly #cacheSize: number

  constructor(options: ClassifierOptions) {
    this.#reads = new Set(options.readFunctions)
    this.#writes = new Set(options.writeFunctions)
    this.#lookup = options.lookup
    this.#cacheSize = options.cacheSize
    // Loaded in the background from construction, so the first statement does not wait for it (a
    // failure shows on the first classification, and in `ready()`).
    loadParser().catch(() => undefined)
  }

  /** Resolves once the parser is loaded (at once if it is); rejects if it cannot load. */
  ready(): Promise<void> {
    return loadParser()
  }

  /** The cached decision for `text`, without waiting: the hot path of every repeated statement. */
  cached(text: string): Decision | undefined {
    return this.#cache.get(text)
  }

  /** Classifies `text` (parsing it, and looking up unknown functions once), caching the decision. */
  async classify(text: string): Promise<Decision> {
    const hit = this.#cache.get(text)
    if (hit !== undefined) return hit
    await loadParser()
    let tree: unknown
    try {
      tree = parseSync(text)
    } catch {
      return this.#remember(text, {
        target: 'primary',
        reason: 'unparseable',
        wrappable: false,
        transactionControl: undefined,
      })
    }
    const verdict = classifyTree(tree)
    if (verdict.kind === 'write')
      return this.#remember(text, {
        target: 'primary',
        reason: verdict.reason,
        wrappable: verdict.wrappable,
        transactionControl: verdict.transactionControl,
      })
    const judged = await this.#judgeFunctions(verdict.functions)
    if (judged === 'lookup-failed')
      return {
        target: 'primary',
        reason: 'function-lookup-failed',
        wrappable: true,
        transactionControl: undefined,
      }
    if (judged !== undefined)
      return this.#remember(text, {
        target: 'primary',
        reason: judged,
        wrappable: true,
        transactionControl: undefined,
      })
    return this.#remember(text, {
      target: 'replica',
      reason: verdict.reason,
      wrappable: true,
      transactionControl: undefined,
    })
  }

  /**
   * True when a primary decision is a guess rather than a proof (the statement did not parse, or
   * calls a function that may write): `{ role: 'replica' }` may then overrule it.
   */
  static overridable(decision: Decision): boolean {
    return /^(unparseable|unknown-function|volatile-function|function-lookup-failed|learned)/.test(
      decision.reason,
    )
  }

  /** A replica refused `text` as a write (25006): from now on it goes to the primary. */
  learnWrite(text: string): void {
    this.#remember(text, {
      target: 'primary',
      reason: 'learned-read-only-error',
      wrappable: false,
      transactionControl: undefined,
    })
  }

  /** Returns why the statement must go to the primary, undefined if its functions are all reads. */
  async #judgeFunctions(refs: readonly FunctionRef[]): Promise<string | undefined> {
    const unknown: FunctionRef[] = []
    for (const ref of refs) {
      const qualified = ref.schema === undefined ? ref.name : `${ref.schema}.${ref.name}`
      if (this.#writes.has(ref.name) || this.#writes.has(qualified)) return `function:${ref.name}`
      if (this.#reads.has(ref.name) || this.#reads.has(qualified)) continue
      if ((ref.schema === undefined || ref.schema === 'pg_catalog') && isReadOnlyVolatile(ref.name)) continue
      const known = this.#functions.get(qualified)
      if (known === 'write') return `volatile-function:${ref.name}`
      if (known === undefined) unknown.push(ref)
    }
    if (unknown.length === 0) return undefined
    const first = unknown[0]
    if (this.#lookup === undefined) return first === undefined ? undefined : `unknown-function:${first.name}`
    let rows: readonly FunctionRow[]
    try {
      rows = await this.#lookup([...new Set(unknown.map((r) => r.name))])
    } catch {
      return 'lookup-failed'
    }
    let verdict: string | undefined
    for (const ref of unknown) {
      const matching = rows.filter(
        (r) => r.name === ref.name && (ref.schema === undefined || r.schema === ref.schema),
      )
      // Unknown to pg_proc, or VOLATILE (it may write) — a built-in too, unless reviewed as a read: primary.
      const writes = matching.length === 0 || matching.some((r) => r.volatility === 'v')
      this.#functions.set(
        ref.schema === undefined ? ref.name : `${ref.schema}.${ref.name}`,
        writes ? 'write' : 'read',
      )
      if (writes)
        verdict ??= matching.length === 0 ? `unknown-function:${ref.name}` : `volatile-function:${ref.name}`
    }
    return verdict
  }

  #remember(text: string, decision: Decision): Decision {
    if (text.length > MAX_CACHED_TEXT) return decision
    if (this.#cache.size >= this.#cacheSize && !this.#cache.has(text)) {
      const oldest = this.#cache.keys().next()
      if (oldest.done !== true) this.#cache.delete(oldest.value)
    }
    this.#cache.set(text, decision)
    return decision
  }
}

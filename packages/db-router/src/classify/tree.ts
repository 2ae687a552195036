import { isBuiltinWriteFunction } from './functions'

/** A function a statement calls: unqualified lower-case name, and its schema when written. */
export interface FunctionRef {
  readonly name: string
  readonly schema: string | undefined
}

/** What the parse tree alone says about a statement. */
export type TreeVerdict =
  | {
      readonly kind: 'write'
      readonly reason: string
      readonly wrappable: boolean
      /** The first transaction-control statement in the text (`BEGIN`, `COMMIT`, `SAVEPOINT`…), if any. */
      readonly transactionControl?: string
    }
  | { readonly kind: 'read'; readonly reason: string; readonly functions: readonly FunctionRef[] }

/** Top-level statements whose effects can be wrapped in `BEGIN; …; COMMIT` to capture the commit LSN in one round trip. */
const WRAPPABLE: ReadonlySet<string> = new Set([
  'InsertStmt',
  'UpdateStmt',
  'DeleteStmt',
  'MergeStmt',
  'SelectStmt',
])
/**
 * `TransactionStmt` kinds by the statement that produces them (`END` parses as `COMMIT`, `ABORT` as
 * `ROLLBACK`). On a pooled connection each of them leaves the session in, or takes it out of, a
 * transaction that no other call of the router knows about.
 */
const TRANSACTION_CONTROL: ReadonlyMap<string, string> = new Map([
  ['TRANS_STMT_BEGIN', 'BEGIN'],
  ['TRANS_STMT_START', 'START TRANSACTION'],
  ['TRANS_STMT_COMMIT', 'COMMIT'],
  ['TRANS_STMT_ROLLBACK', 'ROLLBACK'],
  ['TRANS_STMT_SAVEPOINT', 'SAVEPOINT'],
  ['TRANS_STMT_RELEASE', 'RELEASE SAVEPOINT'],
  ['TRANS_STMT_ROLLBACK_TO', 'ROLLBACK TO SAVEPOINT'],
  ['TRANS_STMT_PREPARE', 'PREPARE TRANSACTION'],
  ['TRANS_STMT_COMMIT_PREPARED', 'COMMIT PREPARED'],
  ['TRANS_STMT_ROLLBACK_PREPARED', 'ROLLBACK PREPARED'],
])
/** Data-modifying nodes: found anywhere inside a SELECT, they make a writable CTE. */
const DML: ReadonlySet<string> = new Set(['InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt'])

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

interface Findings {
  locking: boolean
  dml: boolean
  tempRelation: boolean
  functions: FunctionRef[]
}

/**
 * Classifies libpg_query's parse result (`{ stmts: [{ stmt: { <Type>: {...} } }] }`). Anything not
 * provably a read is a write: several statements, any statement but SELECT / VALUES / TABLE (and
 * EXPLAIN of one), SELECT INTO, FOR UPDATE/SHARE anywhere, a data-modifying CTE, a temp relation,
 * or a built-in writing function. Other functions are returned for the caller to judge. A text with
 * a transaction-control statement anywhere in it says which (`transactionControl`).
 */
export function classifyTree(tree: unknown): TreeVerdict {
  const stmts = (tree as { stmts?: unknown }).stmts
  if (!Array.isArray(stmts) || stmts.length === 0) return { kind: 'write', reason: 'empty', wrappable: false }
  if (stmts.length > 1) {
    for (const entry of stmts) {
      const [type, body] = single((entry as { stmt?: Json }).stmt)
      const control = type === 'TransactionStmt' ? transactionControlOf(body) : undefined
      if (control !== undefined)
        return { kind: 'write', reason: 'multi-statement', wrappable: false, transactionControl: control }
    }
    return { kind: 'write', reason: 'multi-statement', wrappable: false }
  }
  const raw = (stmts[0] as { stmt?: Json }).stmt
  const [type, body] = single(raw)
  if (type === undefined) return { kind: 'write', reason: 'empty', wrappable: false }
  if (type === 'ExplainStmt') {
    const [innerType, innerBody] = single(isObject(body) ? body.query : null)
    if (innerType !== 'SelectStmt') return { kind: 'write', reason: 'explain-write', wrappable: false }
    return classifySelect(innerBody, 'explain')
  }
  if (type === 'SelectStmt') {
    const verdict = classifySelect(body, 'select')
    return verdict.kind === 'write' ? { ...verdict, wrappable: true } : verdict
  }
  if (type === 'TransactionStmt')
    return {
      kind: 'write',
      reason: 'transaction',
      wrappable: false,
      transactionControl: transactionControlOf(body),
    }
  return { kind: 'write', reason: reasonOf(type), wrappable: WRAPPABLE.has(type) }
}

/** The statement a `TransactionStmt` body stands for; a kind this parser version adds is named by its kind. */
function transactionControlOf(body: Json | undefined): string {
  const kind = isObject(body) && typeof body.kind === 'string' ? body.kind : 'TRANS_STMT_UNKNOWN'
  return TRANSACTION_CONTROL.get(kind) ?? kind
}

function classifySelect(body: Json | undefined, label: string): TreeVerdict {
  if (!isObject(body)) return { kind: 'write', reason: 'unrecognised', wrappable: false }
  if (body.intoClause !== undefined) return { kind: 'write', reason: 'select-into', wrappable: false }
  const found: Findings = { locking: false, dml: false, tempRelation: false, functions: [] }
  walk(body, found)
  if (found.dml) return { kind: 'write', reason: 'writable-cte', wrappable: true }
  if (found.locking) return { kind: 'write', reason: 'locking-clause', wrappable: true }
  if (found.tempRelation) return { kind: 'write', reason: 'temp-relation', wrappable: true }
  const builtin = found.functions.find((f) => isBuiltinWriteFunction(f.name))
  if (builtin !== undefined) return { kind: 'write', reason: `function:${builtin.name}`, wrappable: true }
  return { kind: 'read', reason: label, functions: found.functions }
}

function walk(node: Json | undefined, found: Findings): void {
  if (Array.isArray(node)) {
    for (const item of node) walk(item, found)
    return
  }
  if (!isObject(node)) return
  for (const [key, value] of Object.entries(node)) {
    if (DML.has(key)) found.dml = true
    else if (key === 'lockingClause' || key === 'LockingClause') found.locking = true
    else if (key === 'RangeVar' && isObject(value)) {
      if (
        value.relpersistence === 't' ||
        (typeof value.schemaname === 'string' && value.schemaname.startsWith('pg_temp'))
      )
        found.tempRelation = true
    } else if (key === 'FuncCall' && isObject(value)) {
      const ref = functionRef(value.funcname)
      if (ref !== undefined) found.functions.push(ref)
    }
    walk(value, found)
  }
}

function functionRef(funcname: Json | undefined): FunctionRef | undefined {
  if (!Array.isArray(funcname)) return undefined
  const parts = funcname.map((p) =>
    isObject(p) && isObject(p.String) && typeof p.String.sval === 'string' ? p.String.sval.toLowerCase() : '',
  )
  const name = parts.at(-1)
  if (name === undefined || name === '') return undefined
  return { name, schema: parts.length > 1 ? parts.at(-2) : undefined }
}

function single(node: Json | undefined): [string | undefined, Json | undefined] {
  if (!isObject(node)) return [undefined, undefined]
  const entry = Object.entries(node)[0]
  return entry === undefined ? [undefined, undefined] : [entry[0], entry[1]]
}

function isObject(value: Json | undefined): value is { [key: string]: Json } {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** `InsertStmt` → `insert`, `VariableSetStmt` → `variable-set`. */
function reasonOf(type: string): string {
  return type
    .replace(/Stmt$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1-$2')
    .toLowerCase()
}

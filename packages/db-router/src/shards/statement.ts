import { loadModule, parseSync } from 'libpg-query'
import { classifyTree } from '../classify/tree'

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }
type Obj = { [key: string]: Json }

/** Where a statement's shard key is: the `n`th parameter, or a constant in the text. */
export type KeyRef = { readonly param: number } | { readonly value: string | number }

/** The shard key(s) a statement names, or why it names none a router can use. */
export type KeyPlan =
  { readonly ok: true; readonly keys: readonly KeyRef[] } | { readonly ok: false; readonly reason: string }

/** One ORDER BY term on an output column. */
export interface SortTerm {
  readonly column: string
  readonly desc: boolean
  readonly nullsFirst: boolean
}

/** The aggregates a cross-shard merge knows how to combine. */
export type Combinable = 'count' | 'sum' | 'min' | 'max'

/** How the rows of every shard combine into the answer one database would give. */
export type MergePlan =
  | {
      readonly ok: true
      readonly orderBy: readonly SortTerm[]
      readonly limit: KeyRef | undefined
      /** Output columns computed by an aggregate, and how; empty when the statement aggregates nothing. */
      readonly aggregates: ReadonlyMap<string, Combinable>
    }
  | { readonly ok: false; readonly reason: string }

/** What the parser says about one statement, for a sharded router. */
export interface StatementInfo {
  /** Provably a read (the classifier's verdict on the tree, before function lookups). */
  readonly read: boolean
  /** Tables named (`schema.table` when qualified), CTE names left out. */
  readonly tables: readonly string[]
  readonly key: KeyPlan
  readonly merge: MergePlan
}

const AGGREGATES: ReadonlySet<string> = new Set([
  'avg',
  'count',
  'sum',
  'min',
  'max',
  'array_agg',
  'string_agg',
  'json_agg',
  'jsonb_agg',
  'json_object_agg',
  'jsonb_object_agg',
  'bool_and',
  'bool_or',
  'every',
  'bit_and',
  'bit_or',
  'stddev',
  'stddev_pop',
  'stddev_samp',
  'variance',
  'var_pop',
  'var_samp',
  'percentile_cont',
  'percentile_disc',
  'mode',
  'xmlagg',
  'range_agg',
  'range_intersect_agg',
  'corr',
  'covar_pop',
  'covar_samp',
  'regr_count',
])

let parser: Promise<void> | undefined

/** Loads the WASM Postgres parser (once per process; the router's classifier shares it). */
export function loadStatementParser(): Promise<void> {
  parser ??= loadModule()
  return parser
}

/** Parses and analyses statements for one shard column, caching by text (bounded). */
export class StatementAnalyzer {
  readonly #column: string | undefined
  readonly #cache = new Map<string, StatementInfo>()
  readonly #size: number

  constructor(column: string | undefined, size = 10_000) {
    this.#column = column?.toLowerCase()
    this.#size = size
  }

  /** The analysis of `text` (the parser must be loaded: `loadStatementParser()`). */
  analyze(text: string): StatementInfo {
    const hit = this.#cache.get(text)
    if (hit !== undefined) return hit
    const info = analyzeText(text, this.#column)
    if (this.#cache.size >= this.#size) {
      const oldest = this.#cache.keys().next()
      if (oldest.done !== true) this.#cache.delete(oldest.value)
    }
    if (text.length <= 16 * 1024) this.#cache.set(text, info)
    return info
  }
}

function analyzeText(text: string, column: string | undefined): StatementInfo {
  let tree: unknown
  try {
    tree = parseSync(text)
  } catch {
    const reason = 'unparseable'
    return { read: false, tables: [], key: { ok: false, reason }, merge: { ok: false, reason } }
  }
  const read = classifyTree(tree).kind === 'read'
  const stmts = (tree as { stmts?: { stmt?: Json }[] }).stmts ?? []
  const tables = tablesOf(stmts)
  if (stmts.length !== 1) {
    const reason = 'multi-statement'
    return { read, tables, key: { ok: false, reason }, merge: { ok: false, reason } }
  }
  const [type, body] = single(stmts[0]?.stmt)
  return {
    read,
    tables,
    key: column === undefined ? { ok: false, reason: 'no-shard-column' } : keyPlan(type, body, column),
    merge: mergePlan(type, body),
  }
}

// ---------------------------------------------------------------- shard key

function keyPlan(type: string | undefined, body: Json | undefined, column: string): KeyPlan {
  if (!isObject(body)) return { ok: false, reason: 'no-key' }
  if (body.withClause !== undefined) return { ok: false, reason: 'cte' }
  if (contains(body, 'SubLink') || contains(body, 'RangeSubselect') || contains(body, 'RangeFunction'))
    return { ok: false, reason: 'subquery' }
  switch (type) {
    case 'SelectStmt':
      if (body.op !== undefined && body.op !== 'SETOP_NONE') return { ok: false, reason: 'set-operation' }
      return filtered(asList(body.fromClause), body.whereClause, column)
    case 'UpdateStmt':
      if (
        asList(body.targetList).some(
          (t) => isObject(t) && isObject(t.ResTarget) && lower(t.ResTarget.name) === column,
        )
      )
        return { ok: false, reason: 'updates-shard-key' }
      return filtered(
        [{ RangeVar: body.relation ?? null }, ...asList(body.fromClause)],
        body.whereClause,
        column,
      )
    case 'DeleteStmt':
      return filtered(
        [{ RangeVar: body.relation ?? null }, ...asList(body.usingClause)],
        body.whereClause,
        column,
      )
    case 'InsertStmt':
      return insertKeys(body, column)
    default:
      return { ok: false, reason: 'no-key' }
  }
}

function insertKeys(body: Obj, column: string): KeyPlan {
  const cols = asList(body.cols).map((c) =>
    isObject(c) && isObject(c.ResTarget) ? lower(c.ResTarget.name) : '',
  )
  if (cols.length === 0) return { ok: false, reason: 'insert-without-columns' }
  const at = cols.indexOf(column)
  if (at < 0) return { ok: false, reason: 'no-key' }
  const [, select] = single(body.selectStmt)
  const lists = isObject(select) ? asList(select.valuesLists) : []
  if (lists.length === 0) return { ok: false, reason: 'insert-select' }
  const keys: KeyRef[] = []
  for (const list of lists) {
    const items = isObject(list) && isObject(list.List) ? asList(list.List.items) : []
    const ref = keyRef(items[at])
    if (ref === undefined) return { ok: false, reason: 'key-not-constant' }
    keys.push(ref)
  }
  return { ok: true, keys }
}

/** A SELECT/UPDATE/DELETE: relations joined on the key, and a WHERE that pins it by equality (or an IN list). */
function filtered(from: readonly Json[], where: Json | undefined, column: string): KeyPlan {
  const conjuncts = conjunctsOf(where)
  const relations = from.filter((f) => f !== null)
  let joins = 0
  for (const item of relations) {
    const [type, node] = single(item)
    if (type === 'JoinExpr') {
      const check = joinOnKey(node, column)
      if (!check) return { ok: false, reason: 'join-without-key' }
      joins += countRelations(node) - 1
    }
  }
  const keyJoins = conjuncts.filter((c) => isKeyToKey(c, column)).length
  const total = relations.reduce<number>((n, item) => n + countRelations(single(item)[1], single(item)[0]), 0)
  if (total - 1 > joins + keyJoins) return { ok: false, reason: 'join-without-key' }
  const pinned: KeyRef[] = []
  let inList: KeyRef[] | undefined
  for (const c of conjuncts) {
    const [type, node] = single(c)
    if (type !== 'A_Expr' || !isObject(node)) continue
    const op = opName(node.name)
    if (node.kind === 'AEXPR_OP' && op === '=') {
      const left = isKeyColumn(node.lexpr, column) ? keyRef(node.rexpr) : undefined
      const right = isKeyColumn(node.rexpr, column) ? keyRef(node.lexpr) : undefined
      const ref = left ?? right
      if (ref !== undefined) pinned.push(ref)
      else if ((isKeyColumn(node.lexpr, column) || isKeyColumn(node.rexpr, column)) && !isKeyToKey(c, column))
        return { ok: false, reason: 'key-not-constant' }
    } else if (node.kind === 'AEXPR_IN' && op === '=' && isKeyColumn(node.lexpr, column)) {
      const items = isObject(node.rexpr) && isObject(node.rexpr.List) ? asList(node.rexpr.List.items) : []
      const refs = items.map(keyRef)
      if (refs.some((r) => r === undefined) || refs.length === 0)
        return { ok: false, reason: 'key-not-constant' }
      inList = refs as KeyRef[]
    }
  }
  if (pinned.length > 0) return { ok: true, keys: pinned }
  if (inList !== undefined) return { ok: true, keys: inList }
  if (where !== undefined && mentions(where, column)) return { ok: false, reason: 'or' }
  return { ok: false, reason: 'no-key' }
}

function countRelations(node: Json | undefined, type?: string): number {
  if (type === 'RangeVar') return 1
  if (!isObject(node)) return 0
  if (type === 'JoinExpr' || node.larg !== undefined)
    return (
      countRelations(single(node.larg)[1], single(node.larg)[0]) +
      countRelations(single(node.rarg)[1], single(node.rarg)[0])
    )
  return 1
}

/** Every join in a JoinExpr tree has `a.key = b.key` among its ON conjuncts (USING (key) too). */
function joinOnKey(node: Json | undefined, column: string): boolean {
  if (!isObject(node)) return false
  const using = asList(node.usingClause).some(
    (u) => isObject(u) && isObject(u.String) && lower(u.String.sval) === column,
  )
  const on = conjunctsOf(node.quals).some((c) => isKeyToKey(c, column))
  if (!using && !on) return false
  for (const side of [node.larg, node.rarg]) {
    const [type, inner] = single(side)
    if (type === 'JoinExpr' && !joinOnKey(inner, column)) return false
  }
  return true
}

function isKeyToKey(c: Json, column: string): boolean {
  const [type, node] = single(c)
  return (
    type === 'A_Expr' &&
    isObject(node) &&
    node.kind === 'AEXPR_OP' &&
    opName(node.name) === '=' &&
    isKeyColumn(node.lexpr, column) &&
    isKeyColumn(node.rexpr, column)
  )
}

function conjunctsOf(where: Json | undefined): Json[] {
  if (where === undefined || where === null) return []
  const [type, node] = single(where)
  if (type === 'BoolExpr' && isObject(node) && node.boolop === 'AND_EXPR')
    return asList(node.args).flatMap(conjunctsOf)
  return [where]
}

function isKeyColumn(expr: Json | undefined, column: string): boolean {
  const [type, node] = single(expr)
  if (type === 'TypeCast' && isObject(node)) return isKeyColumn(node.arg, column)
  if (type !== 'ColumnRef' || !isObject(node)) return false
  const last = asList(node.fields).at(-1)
  return isObject(last) && isObject(last.String) && lower(last.String.sval) === column
}

function mentions(node: Json | undefined, column: string): boolean {
  if (Array.isArray(node)) return node.some((n) => mentions(n, column))
  if (!isObject(node)) return false
  if (isKeyColumn({ ColumnRef: node.ColumnRef ?? null }, column)) return true
  return Object.values(node).some((v) => mentions(v, column))
}

/** A parameter or a constant (through casts); undefined for anything computed. */
export function keyRef(expr: Json | undefined): KeyRef | undefined {
  const [type, node] = single(expr)
  if (!isObject(node)) return undefined
  if (type === 'TypeCast') return keyRef(node.arg)
  if (type === 'ParamRef' && typeof node.number === 'number') return { param: node.number }
  if (type !== 'A_Const' || node.isnull === true) return undefined
  if (isObject(node.ival)) return { value: typeof node.ival.ival === 'number' ? node.ival.ival : 0 }
  if (isObject(node.sval) && typeof node.sval.sval === 'string') return { value: node.sval.sval }
  if (isObject(node.fval) && typeof node.fval.fval === 'string' && /^-?\d+$/.test(node.fval.fval))
    return { value: node.fval.fval }
  return undefined
}

// ---------------------------------------------------------------- merge

function mergePlan(type: string | undefined, body: Json | undefined): MergePlan {
  if (type !== 'SelectStmt' || !isObject(body))
    return { ok: true, orderBy: [], limit: undefined, aggregates: new Map() }
  if (body.op !== undefined && body.op !== 'SETOP_NONE')
    return { ok: false, reason: 'a set operation (UNION, INTERSECT, EXCEPT)' }
  if (body.limitOffset !== undefined)
    return { ok: false, reason: 'OFFSET (each shard would skip its own rows)' }
  if (body.distinctClause !== undefined)
    return { ok: false, reason: 'DISTINCT (rows may repeat across shards)' }
  if (body.havingClause !== undefined)
    return { ok: false, reason: 'HAVING (it filters per shard, before the groups combine)' }
  if (body.limitOption === 'LIMIT_OPTION_WITH_TIES') return { ok: false, reason: 'FETCH … WITH TIES' }
  const targets = asList(body.targetList).map((t) =>
    isObject(t) && isObject(t.ResTarget) ? t.ResTarget : {},
  )
  const names = targets.map(outputName)
  const aggregates = new Map<string, Combinable>()
  for (const [i, target] of targets.entries()) {
    const [vtype, val] = single(target.val)
    const fn = vtype === 'FuncCall' && isObject(val) ? functionName(val) : undefined
    if (fn !== undefined && AGGREGATES.has(fn) && isObject(val)) {
      if (val.over !== undefined) return { ok: false, reason: `the window function ${fn}() OVER` }
      if (val.agg_distinct === true) return { ok: false, reason: `${fn}(DISTINCT …)` }
      if (fn !== 'count' && fn !== 'sum' && fn !== 'min' && fn !== 'max')
        return {
          ok: false,
          reason: `${fn}() (only count, sum, min and max combine; for avg select sum and count)`,
        }
      if (contains(val.args ?? null, 'FuncCall') && hasAggregate(val.args ?? null))
        return { ok: false, reason: 'a nested aggregate' }
      aggregates.set(names[i] ?? '', fn)
    } else if (hasAggregate(target.val ?? null) || hasWindow(target.val ?? null)) {
      return {
        ok: false,
        reason: `an aggregate or window function inside an expression (${names[i] ?? '?column?'})`,
      }
    }
  }
  const groups = asList(body.groupClause)
  if (groups.length > 0) {
    const plain = new Set(names.filter((n) => !aggregates.has(n)))
    for (const g of groups) {
      const name = columnName(g)
      if (name === undefined || !plain.has(name))
        return { ok: false, reason: 'GROUP BY on something that is not an output column' }
    }
  }
  const orderBy: SortTerm[] = []
  for (const s of asList(body.sortClause)) {
    const sort = isObject(s) && isObject(s.SortBy) ? s.SortBy : {}
    let column = single(sort.node)[0] === 'FuncCall' ? undefined : columnName(sort.node)
    const position = keyRef(sort.node)
    if (
      column === undefined &&
      position !== undefined &&
      'value' in position &&
      typeof position.value === 'number'
    )
      column = names[position.value - 1]
    if (column === undefined)
      return { ok: false, reason: 'ORDER BY on an expression (order by an output column)' }
    if (!names.includes(column) && !names.includes('*'))
      return { ok: false, reason: `ORDER BY ${column}, which is not an output column` }
    const desc = sort.sortby_dir === 'SORTBY_DESC'
    const nulls = sort.sortby_nulls
    orderBy.push({
      column,
      desc,
      nullsFirst: nulls === 'SORTBY_NULLS_FIRST' || (nulls !== 'SORTBY_NULLS_LAST' && desc),
    })
  }
  let limit: KeyRef | undefined
  if (body.limitCount !== undefined) {
    limit = keyRef(body.limitCount)
    if (limit === undefined && !isNullConst(body.limitCount))
      return { ok: false, reason: 'a LIMIT that is not a constant or a parameter' }
  }
  return { ok: true, orderBy, limit, aggregates }
}

function isNullConst(expr: Json | undefined): boolean {
  const [type, node] = single(expr)
  return type === 'A_Const' && isObject(node) && node.isnull === true
}

function hasWindow(node: Json): boolean {
  if (Array.isArray(node)) return node.some(hasWindow)
  if (!isObject(node)) return false
  if (isObject(node.FuncCall) && node.FuncCall.over !== undefined) return true
  return Object.values(node).some(hasWindow)
}

function hasAggregate(node: Json): boolean {
  if (Array.isArray(node)) return node.some(hasAggregate)
  if (!isObject(node)) return false
  if (isObject(node.FuncCall)) {
    const fn = functionName(node.FuncCall)
    if (fn !== undefined && AGGREGATES.has(fn)) return true
  }
  return Object.values(node).some(hasAggregate)
}

/** The column name Postgres gives a target: its alias, a column's name, a function's name, else `?column?`. */
function outputName(target: Obj): string {
  if (typeof target.name === 'string') return target.name
  return columnName(target.val) ?? '?column?'
}

function columnName(expr: Json | undefined): string | undefined {
  const [type, node] = single(expr)
  if (!isObject(node)) return undefined
  if (type === 'TypeCast') return columnName(node.arg)
  if (type === 'FuncCall') return functionName(node)
  if (type !== 'ColumnRef') return undefined
  const last = asList(node.fields).at(-1)
  if (isObject(last) && isObject(last.A_Star)) return '*'
  return isObject(last) && isObject(last.String) && typeof last.String.sval === 'string'
    ? last.String.sval
    : undefined
}

function functionName(call: Obj): string | undefined {
  const last = asList(call.funcname).at(-1)
  return isObject(last) && isObject(last.String) && typeof last.String.sval === 'string'
    ? last.String.sval.toLowerCase()
    : undefined
}

// ---------------------------------------------------------------- tree helpers

function tablesOf(stmts: Json): string[] {
  const ctes = new Set<string>()
  const found = new Set<string>()
  const visit = (node: Json): void => {
    if (Array.isArray(node)) {
      for (const n of node) visit(n)
      return
    }
    if (!isObject(node)) return
    for (const [key, value] of Object.entries(node)) {
      if (key === 'CommonTableExpr' && isObject(value) && typeof value.ctename === 'string')
        ctes.add(value.ctename)
      // INSERT/UPDATE/DELETE name their target as a bare RangeVar under `relation`.
      if ((key === 'RangeVar' || key === 'relation') && isObject(value) && typeof value.relname === 'string')
        found.add(
          typeof value.schemaname === 'string' ? `${value.schemaname}.${value.relname}` : value.relname,
        )
      visit(value)
    }
  }
  visit(stmts)
  return [...found].filter((t) => !ctes.has(t))
}

function contains(node: Json, key: string): boolean {
  if (Array.isArray(node)) return node.some((n) => contains(n, key))
  if (!isObject(node)) return false
  return Object.entries(node).some(([k, v]) => k === key || contains(v, key))
}

function opName(name: Json | undefined): string | undefined {
  const first = asList(name).at(-1)
  return isObject(first) && isObject(first.String) && typeof first.String.sval === 'string'
    ? first.String.sval
    : undefined
}

function asList(value: Json | undefined): Json[] {
  return Array.isArray(value) ? value : []
}

function lower(value: Json | undefined): string {
  return typeof value === 'string' ? value.toLowerCase() : ''
}

function single(node: Json | undefined): [string | undefined, Json | undefined] {
  if (!isObject(node)) return [undefined, undefined]
  const entry = Object.entries(node)[0]
  return entry === undefined ? [undefined, undefined] : [entry[0], entry[1]]
}

function isObject(value: Json | undefined): value is Obj {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

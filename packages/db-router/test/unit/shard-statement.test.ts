import { beforeAll, describe, expect, it } from 'vitest'
import { loadStatementParser, StatementAnalyzer } from '../../src/shards/statement'
import type { KeyRef } from '../../src/shards/statement'

/** What the sharded router does with a statement when no `shardKey` is given. */
type Decision = { keys: readonly KeyRef[] } | { refused: string }

const table: readonly [string, Decision][] = [
  // equality on the shard column: routed by the parameter or the constant
  ['SELECT * FROM orders WHERE tenant_id = $1', { keys: [{ param: 1 }] }],
  ['SELECT * FROM orders WHERE $2 = tenant_id AND status = $1', { keys: [{ param: 2 }] }],
  [
    "SELECT * FROM orders o WHERE o.tenant_id = 'acme' AND (o.a = 1 OR o.b = 2)",
    { keys: [{ value: 'acme' }] },
  ],
  ['SELECT * FROM orders WHERE tenant_id = 42::bigint', { keys: [{ value: 42 }] }],
  ['SELECT * FROM orders WHERE tenant_id = $1::text LIMIT 10', { keys: [{ param: 1 }] }],
  ['SELECT count(*) FROM orders WHERE tenant_id = 0', { keys: [{ value: 0 }] }],
  ['UPDATE orders SET total = $2 WHERE tenant_id = $1 AND id = $3', { keys: [{ param: 1 }] }],
  ['DELETE FROM orders WHERE id = $2 AND tenant_id = $1', { keys: [{ param: 1 }] }],
  ['INSERT INTO orders (tenant_id, total) VALUES ($1, $2)', { keys: [{ param: 1 }] }],
  [
    'INSERT INTO orders (id, tenant_id) VALUES ($1, $2), ($3, $4) RETURNING id',
    { keys: [{ param: 2 }, { param: 4 }] },
  ],
  [
    "INSERT INTO orders (total, tenant_id) VALUES (1, 'acme') ON CONFLICT DO NOTHING",
    { keys: [{ value: 'acme' }] },
  ],
  // an IN list: routed only if every key is on one shard (decided with the values, at the call)
  ['SELECT * FROM orders WHERE tenant_id IN ($1, $2)', { keys: [{ param: 1 }, { param: 2 }] }],
  // joins on the key (co-located) with the key pinned
  [
    'SELECT * FROM orders o JOIN items i ON i.tenant_id = o.tenant_id AND i.order_id = o.id WHERE o.tenant_id = $1',
    { keys: [{ param: 1 }] },
  ],
  ['SELECT * FROM orders JOIN items USING (tenant_id, id) WHERE tenant_id = $1', { keys: [{ param: 1 }] }],
  [
    'SELECT * FROM orders o, items i WHERE o.tenant_id = i.tenant_id AND o.tenant_id = $1',
    { keys: [{ param: 1 }] },
  ],
  // refused: never guessed, never broadcast
  ['SELECT * FROM orders', { refused: 'no-key' }],
  ['SELECT * FROM orders WHERE id = $1', { refused: 'no-key' }],
  ['SELECT * FROM orders WHERE tenant_id = $1 OR id = $2', { refused: 'or' }],
  ['SELECT * FROM orders WHERE tenant_id > $1', { refused: 'or' }],
  ['SELECT * FROM orders WHERE tenant_id = lower($1)', { refused: 'key-not-constant' }],
  [
    'SELECT * FROM orders o JOIN items i ON i.order_id = o.id WHERE o.tenant_id = $1',
    { refused: 'join-without-key' },
  ],
  ['SELECT * FROM orders o, items i WHERE o.tenant_id = $1 AND i.id = o.id', { refused: 'join-without-key' }],
  [
    'SELECT * FROM orders WHERE tenant_id = $1 AND id IN (SELECT order_id FROM items)',
    { refused: 'subquery' },
  ],
  ['WITH x AS (SELECT 1) SELECT * FROM orders WHERE tenant_id = $1', { refused: 'cte' }],
  [
    'SELECT * FROM orders WHERE tenant_id = $1 UNION SELECT * FROM orders WHERE tenant_id = $2',
    { refused: 'set-operation' },
  ],
  ['UPDATE orders SET tenant_id = $2 WHERE tenant_id = $1', { refused: 'updates-shard-key' }],
  ['INSERT INTO orders VALUES ($1, $2)', { refused: 'insert-without-columns' }],
  [
    'INSERT INTO orders (tenant_id, total) SELECT tenant_id, total FROM old_orders',
    { refused: 'insert-select' },
  ],
  ['INSERT INTO orders (total) VALUES (1)', { refused: 'no-key' }],
  ['SELECT 1; SELECT 2', { refused: 'multi-statement' }],
  ['SELEC nonsense', { refused: 'unparseable' }],
  ['CREATE TABLE t (tenant_id int)', { refused: 'no-key' }],
]

describe('shard key from the statement (shardColumn tenant_id)', () => {
  const analyzer = new StatementAnalyzer('tenant_id')
  beforeAll(() => loadStatementParser())

  it.each(table)('%s', (sql, decision) => {
    const { key } = analyzer.analyze(sql)
    if ('keys' in decision) expect(key).toEqual({ ok: true, keys: decision.keys })
    else expect(key).toEqual({ ok: false, reason: decision.refused })
  })

  it('lists the tables a statement touches, CTE names left out', () => {
    expect(analyzer.analyze('INSERT INTO s.a (x) SELECT x FROM b').tables).toEqual(['s.a', 'b'])
    expect(analyzer.analyze('UPDATE a SET x = 1 FROM b').tables).toEqual(['a', 'b'])
    expect(
      [...analyzer.analyze('WITH x AS (SELECT * FROM a) SELECT * FROM x JOIN s.b ON true').tables].sort(),
    ).toEqual(['a', 's.b'])
  })
})

describe('merge plan of a cross-shard statement', () => {
  const analyzer = new StatementAnalyzer(undefined)
  beforeAll(() => loadStatementParser())

  it('reads ORDER BY terms, LIMIT and combinable aggregates', () => {
    const plan = analyzer.analyze(
      'SELECT region, count(*) AS n, sum(total), min(at), max(at) AS last FROM t GROUP BY region ORDER BY n DESC, 1 LIMIT $1',
    ).merge
    expect(plan).toEqual({
      ok: true,
      orderBy: [
        { column: 'n', desc: true, nullsFirst: true },
        { column: 'region', desc: false, nullsFirst: false },
      ],
      limit: { param: 1 },
      aggregates: new Map([
        ['n', 'count'],
        ['sum', 'sum'],
        ['min', 'min'],
        ['last', 'max'],
      ]),
    })
  })

  it.each([
    ['SELECT * FROM t ORDER BY id LIMIT 10 OFFSET 5', /OFFSET/],
    ['SELECT DISTINCT a FROM t', /DISTINCT/],
    ['SELECT avg(x) FROM t', /avg/],
    ['SELECT count(DISTINCT x) FROM t', /DISTINCT/],
    ['SELECT sum(x) * 2 FROM t', /inside an expression/],
    ['SELECT a, sum(x) FROM t GROUP BY a HAVING sum(x) > 1', /HAVING/],
    ['SELECT sum(x) FROM t GROUP BY a', /GROUP BY/],
    ['SELECT a FROM t ORDER BY lower(a)', /expression/],
    ['SELECT a FROM t ORDER BY b', /not an output column/],
    ['SELECT a FROM t UNION ALL SELECT a FROM u', /set operation/],
    ['SELECT row_number() OVER () FROM t', /inside an expression/],
  ])('refuses %s', (sql, reason) => {
    const plan = analyzer.analyze(sql).merge
    expect(plan.ok).toBe(false)
    if (!plan.ok) expect(plan.reason).toMatch(reason)
  })
})

import { describe, expect, it } from 'vitest'
import { Classifier } from '../../src/classify/classifier'
import type { FunctionRow } from '../../src/classify/classifier'

const base = { readFunctions: [], writeFunctions: [], cacheSize: 100 }
const offline = new Classifier(base)

async function target(sql: string, c: Classifier = offline): Promise<string> {
  const d = await c.classify(sql)
  return `${d.target}:${d.reason}`
}

describe('statement classification (real Postgres parser, no database)', () => {
  it.each([
    ['SELECT 1', 'replica:select'],
    ['select * from t where id = $1', 'replica:select'],
    ['VALUES (1), (2)', 'replica:select'],
    ['TABLE t', 'replica:select'],
    ['WITH x AS (SELECT 1) SELECT * FROM x', 'replica:select'],
    ['EXPLAIN SELECT * FROM t', 'replica:explain'],
    ['SELECT a FROM t UNION SELECT b FROM u', 'replica:select'],
    ['INSERT INTO t VALUES (1)', 'primary:insert'],
    ['UPDATE t SET a = 1', 'primary:update'],
    ['DELETE FROM t', 'primary:delete'],
    ['SELECT * FROM t FOR UPDATE', 'primary:locking-clause'],
    ['SELECT * FROM t FOR KEY SHARE', 'primary:locking-clause'],
    ['SELECT * FROM (SELECT * FROM t FOR SHARE) s', 'primary:locking-clause'],
    ['WITH x AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM x', 'primary:writable-cte'],
    ['SELECT * INTO new_t FROM t', 'primary:select-into'],
    ['SELECT * FROM pg_temp.scratch', 'primary:temp-relation'],
    ["SELECT nextval('s')", 'primary:function:nextval'],
    ["SELECT pg_catalog.setval('s', 1)", 'primary:function:setval'],
    ['SELECT currval($1)', 'primary:function:currval'],
    ['SELECT pg_try_advisory_lock(1)', 'primary:function:pg_try_advisory_lock'],
    ['SELECT pg_advisory_xact_lock_shared(1)', 'primary:function:pg_advisory_xact_lock_shared'],
    ['SELECT txid_current()', 'primary:function:txid_current'],
    ["SELECT set_config('x.y', '1', false)", 'primary:function:set_config'],
    ["SELECT lo_import('/etc/passwd')", 'primary:function:lo_import'],
    ['SELECT 1; SELECT 2', 'primary:multi-statement'],
    ['', 'primary:unparseable'],
    ['-- only a comment', 'primary:empty'],
    ['LISTEN c', 'primary:listen'],
    ["NOTIFY c, 'x'", 'primary:notify'],
    ['SET search_path = x', 'primary:variable-set'],
    ['SHOW search_path', 'primary:variable-show'],
    ['BEGIN', 'primary:transaction'],
    ['CREATE TEMP TABLE x (a int)', 'primary:create'],
    ['COPY t TO STDOUT', 'primary:copy'],
    ['EXPLAIN ANALYZE DELETE FROM t', 'primary:explain-write'],
    ['CALL p()', 'primary:call'],
    ['SELEC 1', 'primary:unparseable'],
    ['SELECT my_fn()', 'primary:unknown-function:my_fn'],
    // Volatile built-ins (issue 12, defect 12): reads only when reviewed as such, whatever the lookup says.
    ['SELECT random(), clock_timestamp(), gen_random_uuid(), pg_sleep(0)', 'replica:select'],
    ['SELECT pg_catalog.timeofday()', 'replica:select'],
    [
      "SELECT query_to_xml('select pg_advisory_lock(424242)', true, false, '')",
      'primary:function:query_to_xml',
    ],
    ["SELECT cursor_to_xml('c', 1, true, false, '')", 'primary:function:cursor_to_xml'],
    ["SELECT * FROM ts_stat('select v from t')", 'primary:function:ts_stat'],
    ["SELECT ts_rewrite('a'::tsquery, 'select q, s from aliases')", 'primary:function:ts_rewrite'],
    ["SELECT brin_summarize_new_values('i')", 'primary:function:brin_summarize_new_values'],
    ["SELECT brin_summarize_range('i', 0)", 'primary:function:brin_summarize_range'],
    ["SELECT brin_desummarize_range('i', 0)", 'primary:function:brin_desummarize_range'],
    ["SELECT gin_clean_pending_list('i')", 'primary:function:gin_clean_pending_list'],
    ["SELECT lo_export(1, '/tmp/x')", 'primary:function:lo_export'],
    ['SELECT lo_truncate64(0, 1)', 'primary:function:lo_truncate64'],
    ['SELECT lo_get(1)', 'primary:function:lo_get'],
    ['SELECT loread(0, 1)', 'primary:function:loread'],
    ['SELECT pg_xact_status(1::xid8)', 'primary:function:pg_xact_status'],
    ["SELECT pg_read_file('postgresql.conf')", 'primary:function:pg_read_file'],
  ])('%s → %s', async (sql, expected) => {
    expect(await target(sql)).toBe(expected)
  })

  it('looks unknown functions up once: non-volatile → read; VOLATILE (built-in too, unless reviewed as a read) or unknown → primary', async () => {
    const calls: string[][] = []
    const rows: FunctionRow[] = [
      { name: 'count', schema: 'pg_catalog', volatility: 'i' },
      { name: 'stable_fn', schema: 'app', volatility: 's' },
      { name: 'writer', schema: 'app', volatility: 'v' },
      // A volatile built-in on neither list (a later server version's): a write until reviewed.
      { name: 'pg_new_thing', schema: 'pg_catalog', volatility: 'v' },
    ]
    const c = new Classifier({
      ...base,
      lookup: (names) => {
        calls.push([...names])
        return Promise.resolve(rows.filter((r) => names.includes(r.name)))
      },
    })
    expect(await target('SELECT count(*), random() FROM t', c)).toBe('replica:select')
    expect(await target('SELECT app.stable_fn()', c)).toBe('replica:select')
    expect(await target('SELECT app.writer()', c)).toBe('primary:volatile-function:writer')
    expect(await target('SELECT ghost()', c)).toBe('primary:unknown-function:ghost')
    expect(await target('SELECT count(*) FROM u', c)).toBe('replica:select')
    expect(await target('SELECT pg_new_thing()', c)).toBe('primary:volatile-function:pg_new_thing')
    // random() is on the reviewed list: never looked up.
    expect(calls).toEqual([['count'], ['stable_fn'], ['writer'], ['ghost'], ['pg_new_thing']])
  })

  it('a failed lookup sends the statement to the primary without caching the decision', async () => {
    let fail = true
    const c = new Classifier({
      ...base,
      lookup: () =>
        fail
          ? Promise.reject(new Error('primary down'))
          : Promise.resolve([{ name: 'f', schema: 'app', volatility: 's' }]),
    })
    expect(await target('SELECT app.f()', c)).toBe('primary:function-lookup-failed')
    fail = false
    expect(await target('SELECT app.f()', c)).toBe('replica:select')
  })

  it('honours the allow and deny lists', async () => {
    const c = new Classifier({ ...base, readFunctions: ['app.reader'], writeFunctions: ['audit'] })
    expect(await target('SELECT app.reader()', c)).toBe('replica:select')
    expect(await target('SELECT audit()', c)).toBe('primary:function:audit')
    expect(await target('SELECT other.reader()', c)).toBe('primary:unknown-function:reader')
  })

  it('caches by text, evicts the oldest past cacheSize, and learns from a read-only error', async () => {
    const c = new Classifier({ ...base, cacheSize: 2 })
    await c.classify('SELECT 1')
    await c.classify('SELECT 2')
    expect(c.cached('SELECT 1')?.target).toBe('replica')
    await c.classify('SELECT 3')
    expect(c.cached('SELECT 1')).toBeUndefined()
    expect(c.cached('SELECT 3')?.target).toBe('replica')
    c.learnWrite('SELECT 3')
    expect(await target('SELECT 3', c)).toBe('primary:learned-read-only-error')
  })

  it.each([
    ['BEGIN', 'BEGIN'],
    ['begin transaction isolation level serializable', 'BEGIN'],
    ['START TRANSACTION READ ONLY', 'START TRANSACTION'],
    ['COMMIT', 'COMMIT'],
    ['END', 'COMMIT'],
    ['ROLLBACK', 'ROLLBACK'],
    ['ABORT', 'ROLLBACK'],
    ['SAVEPOINT s1', 'SAVEPOINT'],
    ['RELEASE s1', 'RELEASE SAVEPOINT'],
    ['RELEASE SAVEPOINT s1', 'RELEASE SAVEPOINT'],
    ['ROLLBACK TO s1', 'ROLLBACK TO SAVEPOINT'],
    ['ROLLBACK TO SAVEPOINT s1', 'ROLLBACK TO SAVEPOINT'],
    ["PREPARE TRANSACTION 'g1'", 'PREPARE TRANSACTION'],
    ["COMMIT PREPARED 'g1'", 'COMMIT PREPARED'],
    ["ROLLBACK PREPARED 'g1'", 'ROLLBACK PREPARED'],
    ['BEGIN; UPDATE t SET a = 1', 'BEGIN'],
    ['UPDATE t SET a = 1; COMMIT', 'COMMIT'],
    ['SELECT 1;\n  -- then\n  SAVEPOINT s1; SELECT 2', 'SAVEPOINT'],
  ])('%s is transaction control (%s), cached with the decision', async (sql, name) => {
    const c = new Classifier(base)
    const d = await c.classify(sql)
    expect(d.target).toBe('primary')
    expect(d.transactionControl).toBe(name)
    expect(c.cached(sql)).toBe(d)
  })

  it.each([
    'SELECT 1',
    'SELECT 1; SELECT 2',
    'INSERT INTO t VALUES (1)',
    'DO $$ BEGIN PERFORM 1; END $$',
    "SELECT 'BEGIN; COMMIT'",
    'SELECT begin FROM t',
    'PREPARE q AS SELECT 1',
    'SET TRANSACTION ISOLATION LEVEL SERIALIZABLE',
    'CALL p()',
    'SELEC 1; BEGIN',
  ])('%s is not transaction control', async (sql) => {
    expect((await offline.classify(sql)).transactionControl).toBeUndefined()
  })

  it('says which primary decisions a { role: "replica" } may overrule', async () => {
    expect(Classifier.overridable(await offline.classify('SELEC 1'))).toBe(true)
    expect(Classifier.overridable(await offline.classify('SELECT my_fn()'))).toBe(true)
    expect(Classifier.overridable(await offline.classify('INSERT INTO t VALUES (1)'))).toBe(false)
    expect(Classifier.overridable(await offline.classify("SELECT nextval('s')"))).toBe(false)
  })
})

/**
 * The packed tarballs as a new user gets them (issue 13, item 6), called by `check-packages.ts`:
 *  1. install every tarball with npm into a fresh project outside the workspace, next to today's
 *     latest `ioredis`, `pg`, `amqplib`, `express` 5, `fastify` 5 and `zod` (npm resolves them now:
 *     a new major that an install range refuses fails here first). No engine-strict: fastify 5.12
 *     pulls cookie 2, which declares Node >= 22, and npm only warns about it, as it does for users;
 *  2. every entry point loads with `import` and `require`, with the same names;
 *  3. a strict TypeScript file imports every public entry (the `exports` of each package.json), in
 *     ESM and in CommonJS, and hands the app's ioredis client (whatever major npm installed, Redis
 *     and Cluster) to the packages that take one;
 *  4. each README quick start (the ```ts blocks of each `## Quick start…` section) compiles under
 *     strict as written and runs: as ESM, and as CommonJS (the same code in an async main), against
 *     the real services (REDIS_URL, AMQP_URL, DATABASE_URL set) and, where the package has one, its
 *     embedded default (none set). The names a quick start takes as given are typed by the
 *     package's `test/docs/readme-context.d.ts` and given values by a prelude in `quickStarts`
 *     below, which may also check at exit that the example did what its comments say; a package
 *     with no entry there (or a `notRun` reason) is compiled, not run, and says so. A quick start
 *     that is a server (it listens on port 3000 and never exits) is started with its port moved to
 *     a free one, sent real HTTP requests whose answers are checked (`serve` below), and stopped.
 *     Other README sections run the same way where a package lists them (`sections`: db-router's
 *     Shards, on the three shard clusters, its placeholder hosts replaced by theirs).
 */
import { execFileSync } from 'node:child_process'
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { serviceUrls } from '../tooling/test-utils/src/services'

/** A package as `check-packages.ts` packed it. */
export interface PackedPackage {
  dir: string
  name: string
  /** Its export subpaths: `.`, `./write-behind`… */
  subpaths: string[]
  tarball: string
}

/** What a fresh app installs beside the tarballs: today's versions, not the workspace's pins. */
const APP_DEPENDENCIES = ['ioredis', 'pg', 'amqplib', 'express@5', 'fastify@5', 'zod']
/** `express@5` → `express`, `@types/node@20` → `@types/node`. */
const baseName = (spec: string): string => spec.replace(/(?<=.)@[^@]*$/, '')
/** What a TypeScript app on Node 20 adds for its own code. */
const APP_TYPES = ['@types/node@20', '@types/express@5', '@types/pg']
/** Longest a quick start may run: one that never exits (an open handle) fails. */
const RUN_TIMEOUT_MS = 20_000

/**
 * Runtime values of the names a package's quick start takes as given (their types are in its
 * `test/docs/readme-context.d.ts`), loaded with `node --import` before the example. A quick start
 * that needs a name missing here fails with a ReferenceError naming it: add it here.
 */
interface QuickStart {
  /** An ES module run before the example; it sets globals and may check the outcome at exit. */
  prelude: string
  /** The package runs without any service when the env vars are unset. */
  embedded: boolean
  /** Run against the services too (REDIS_URL, AMQP_URL, DATABASE_URL and `env` set). @default true */
  services?: boolean
  /** What the services run sets beside REDIS_URL, AMQP_URL and DATABASE_URL (replica URLs…). */
  env?: Readonly<Record<string, string>>
  /**
   * For quick starts that are servers, by their order in the README: the body of an
   * `async (base, assert) => …` that sends real requests to the running example (`base` is its URL,
   * `assert` is `node:assert/strict`) and throws when an answer is not what the README says.
   */
  serve?: readonly (string | undefined)[]
  /** Why the quick start is compiled but not run (say it in the report; remove once it runs). */
  notRun?: string
  /** The same for one quick start of several, by its number (`#2` → 2). */
  notRunNumbers?: Readonly<Partial<Record<number, string>>>
  /** Other sections of the README whose ```ts blocks run too, each with its own context. */
  sections?: readonly Section[]
}

/** A README section beyond the quick starts, run as its quick starts are (its blocks joined). */
interface Section extends Omit<QuickStart, 'sections'> {
  /** Its `## ` heading. */
  heading: string
  /** Placeholder text of the example (a host name of the README) → what runs here (a service's URL). */
  replace?: Readonly<Record<string, string>>
}

/** A service URL whose connections use `schema`: a README example's tables, apart from the tests'. */
const inSchema = (url: string, schema: string): string => {
  const parsed = new URL(url)
  parsed.searchParams.set('options', `-c search_path=${schema}`)
  return parsed.toString()
}
/** The three shard clusters, for the db-router README's Shards section (schema of its own). */
const readmeShards = [0, 1, 2].map((i) => inSchema(serviceUrls.pgShards[i] ?? '', 'scalekit_readme_shards'))

const exitCheck = (condition: string, message: string): string =>
  `process.on('exit', (code) => { if (code === 0 && !(${condition})) { console.error(${JSON.stringify(message)}); process.exitCode = 1 } })\n`

const quickStarts: Record<string, QuickStart> = {
  '@scalekit/cache': {
    embedded: true,
    prelude:
      `let loads = 0\n` +
      `globalThis.id = '42'\n` +
      `globalThis.db = { async findUser(id, { signal }) { signal.throwIfAborted(); loads++; return { id, name: 'Ada' } } }\n` +
      exitCheck('loads === 1', 'the quick start never loaded the user through getOrSet'),
  },
  '@scalekit/queue': {
    embedded: true,
    prelude:
      `const receipts = []\n` +
      `globalThis.sendReceipt = async (orderId) => { receipts.push(orderId) }\n` +
      exitCheck('receipts.includes(42)', 'the handler never sent the receipt of order 42'),
  },
  '@scalekit/session': {
    // Without REDIS_URL, `redis` is undefined: tokens are stateless and sessions live in memory.
    embedded: true,
    prelude: [
      `import { generateKeyPairSync, randomBytes } from 'node:crypto'`,
      `import { Redis } from 'ioredis'`,
      `const jwk = generateKeyPairSync('ed25519').privateKey.export({ format: 'jwk' })`,
      `globalThis.keys = { keys: [{ ...jwk, kid: 'quick-start' }] }`,
      `globalThis.redis = process.env.REDIS_URL === undefined ? undefined : new Redis(process.env.REDIS_URL)`,
      `globalThis.COOKIE_SECRET = randomBytes(32).toString('base64url')`,
      `globalThis.checkPassword = async (body) => body?.user === 'ada' && body?.password === 'secret' ? { id: 'ada' } : undefined`,
      ``,
    ].join('\n'),
    serve: [
      // JWT with Express: log in, call a protected route with the access token, refresh, roles.
      [
        `const post = (path, body, headers = {}) => fetch(base + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) })`,
        `assert.equal((await post('/login', { user: 'ada', password: 'wrong' })).status, 401)`,
        `const login = await post('/login', { user: 'ada', password: 'secret' })`,
        `assert.equal(login.status, 200)`,
        `const pair = await login.json()`,
        `const bearer = (token) => ({ authorization: 'Bearer ' + token })`,
        `const me = await fetch(base + '/me', { headers: bearer(pair.accessToken) })`,
        `assert.equal(me.status, 200)`,
        `assert.deepEqual(await me.json(), { user: 'ada' })`,
        `assert.equal((await fetch(base + '/me')).status, 401)`,
        `assert.equal((await fetch(base + '/me', { headers: bearer(pair.refreshToken) })).status, 401)`,
        `assert.equal((await fetch(base + '/users/7', { method: 'DELETE', headers: bearer(pair.accessToken) })).status, 403)`,
        `const refreshed = await post('/refresh', { refreshToken: pair.refreshToken })`,
        `assert.equal(refreshed.status, 200)`,
        `const next = await refreshed.json()`,
        `assert.notEqual(next.refreshToken, pair.refreshToken)`,
        `assert.equal((await fetch(base + '/me', { headers: bearer(next.accessToken) })).status, 200)`,
      ].join('\n'),
      // Server sessions with Fastify: the cart grows per visitor, login renews the id, logout ends it.
      [
        `const origin = { origin: base }`,
        `const cookieOf = (response) => response.headers.getSetCookie().map((c) => c.split(';')[0]).find((c) => !c.endsWith('='))`,
        `const first = await fetch(base + '/cart', { method: 'POST', headers: origin })`,
        `assert.equal(first.status, 200)`,
        `assert.deepEqual(await first.json(), { items: 1 })`,
        `const cookie = cookieOf(first)`,
        `assert.ok(cookie, 'POST /cart set no session cookie')`,
        `const second = await fetch(base + '/cart', { method: 'POST', headers: { ...origin, cookie } })`,
        `assert.deepEqual(await second.json(), { items: 2 })`,
        `const other = await fetch(base + '/cart', { method: 'POST', headers: origin })`,
        `assert.deepEqual(await other.json(), { items: 1 }, 'another visitor shares the cart')`,
        `assert.equal((await fetch(base + '/cart', { method: 'POST', headers: { origin: 'https://evil.example', cookie } })).status, 403)`,
        `const login = await fetch(base + '/login', { method: 'POST', headers: { ...origin, cookie, 'content-type': 'application/json' }, body: JSON.stringify({ user: 'ada', password: 'secret' }) })`,
        `assert.equal(login.status, 200)`,
        `assert.deepEqual(await login.json(), { ok: true })`,
        `const renewed = cookieOf(login)`,
        `assert.ok(renewed && renewed !== cookie, 'login kept the session id (fixation)')`,
        `const stale = await fetch(base + '/cart', { method: 'POST', headers: { ...origin, cookie } })`,
        `assert.deepEqual(await stale.json(), { items: 1 }, 'the id before login still reaches the session')`,
        `const third = await fetch(base + '/cart', { method: 'POST', headers: { ...origin, cookie: renewed } })`,
        `assert.deepEqual(await third.json(), { items: 3 }, 'login lost the cart')`,
        `const logout = await fetch(base + '/logout', { method: 'POST', headers: { ...origin, cookie: renewed } })`,
        `assert.deepEqual(await logout.json(), { ok: true })`,
        `const after = await fetch(base + '/cart', { method: 'POST', headers: { ...origin, cookie: renewed } })`,
        `assert.deepEqual(await after.json(), { items: 1 }, 'the session outlived logout')`,
      ].join('\n'),
    ],
  },
  '@scalekit/observability': {
    // No service: metrics, logs and health live in the process.
    embedded: true,
    services: false,
    prelude: '',
    serve: [
      // Express: a route's answer, its request id, and its RED series by route template on /metrics.
      [
        `for (const id of ['42', '43']) {`,
        `  const user = await fetch(base + '/users/' + id)`,
        `  assert.equal(user.status, 200)`,
        `  assert.deepEqual(await user.json(), { id })`,
        `  assert.ok(user.headers.get('x-request-id'), 'no x-request-id on the answer')`,
        `}`,
        `const text = await (await fetch(base + '/metrics')).text()`,
        `const count = text.split('\\n').find((l) => l.startsWith('http_server_request_duration_seconds_count{') && l.includes('route="/users/:id"'))`,
        `assert.ok(count?.endsWith(' 2'), 'GET /users/:id is not counted 2 time(s) by its route template: ' + count)`,
      ].join('\n'),
      // Fastify: the route, and the plugin's /metrics, /healthz and /readyz.
      [
        `const user = await fetch(base + '/users/7')`,
        `assert.equal(user.status, 200)`,
        `assert.deepEqual(await user.json(), { id: '7' })`,
        `const text = await (await fetch(base + '/metrics')).text()`,
        `const count = text.split('\\n').find((l) => l.startsWith('http_server_request_duration_seconds_count{') && l.includes('route="/users/:id"'))`,
        `assert.ok(count?.endsWith(' 1'), 'GET /users/:id is not counted 1 time(s) by its route template: ' + count)`,
        `assert.equal((await fetch(base + '/healthz')).status, 200)`,
        `assert.equal((await fetch(base + '/readyz')).status, 200)`,
      ].join('\n'),
    ],
  },
  '@scalekit/ratelimit': {
    // Without REDIS_URL, `redis` is undefined: the limiters keep their state in memory. With it, the
    // quick starts' namespaces start empty, so each run sees the limits the README states.
    embedded: true,
    prelude: [
      `import { Redis } from 'ioredis'`,
      `globalThis.redis = undefined`,
      `if (process.env.REDIS_URL !== undefined) {`,
      `  const cleaner = new Redis(process.env.REDIS_URL)`,
      `  for (const namespace of ['api', 'per-user', 'per-ip', 'global', 'per-key']) {`,
      `    const keys = await cleaner.keys(\`rl:\${namespace}:*\`)`,
      `    if (keys.length > 0) await cleaner.del(...keys)`,
      `  }`,
      `  await cleaner.quit()`,
      `  // The servers' client, made on first use: the first quick start has its own and must exit.`,
      `  let client`,
      `  Object.defineProperty(globalThis, 'redis', { get: () => (client ??= new Redis(process.env.REDIS_URL)) })`,
      `}`,
      ``,
    ].join('\n'),
    serve: [
      undefined, // not a server
      // Express: the per-address limit answers 429 with Retry-After and a coded body; skipPaths.
      [
        `const first = await fetch(base + '/orders/1', { method: 'POST' })`,
        `assert.equal(first.status, 200)`,
        `assert.deepEqual(await first.json(), { ok: true })`,
        `assert.match(first.headers.get('ratelimit-policy') ?? '', /"per-ip"/)`,
        `// 300 a minute, 50 at once: of 100 requests sent together, some are refused.`,
        `const answers = await Promise.all(Array.from({ length: 100 }, () => fetch(base + '/orders/1', { method: 'POST' })))`,
        `const refused = answers.find((r) => r.status === 429)`,
        `assert.ok(refused, 'no 429 among 100 requests sent at once from one address')`,
        `assert.ok(Number(refused.headers.get('retry-after')) >= 1, 'a 429 without Retry-After')`,
        `assert.equal((await refused.json()).code, 'ERR_RATELIMIT_EXCEEDED')`,
        `const health = await fetch(base + '/healthz')`,
        `assert.equal(health.headers.get('ratelimit-policy'), null, 'skipPaths: /healthz was rate limited')`,
      ].join('\n'),
      // Fastify: an API key's exports cost 5 of its 10 a second.
      [
        `const key = { 'x-api-key': 'quick-start-key' }`,
        `const first = await fetch(base + '/export', { headers: key })`,
        `assert.equal(first.status, 200)`,
        `assert.equal(await first.text(), 'ok')`,
        `const answers = await Promise.all(Array.from({ length: 30 }, () => fetch(base + '/export', { headers: key })))`,
        `const refused = answers.find((r) => r.status === 429)`,
        `assert.ok(refused, 'no 429 among 30 exports sent at once with one API key (5 units each, 10 a second)')`,
        `assert.equal((await refused.json()).code, 'ERR_RATELIMIT_EXCEEDED')`,
      ].join('\n'),
    ],
  },
  '@scalekit/db-router': {
    // Its fallback URL names a database of the app's: no embedded default. Against the services it
    // runs on the primary with its two streaming replicas, as its comments say.
    embedded: false,
    env: {
      DATABASE_URL: serviceUrls.pgPrimary,
      REPLICA_1_URL: serviceUrls.pgReplica,
      REPLICA_2_URL: serviceUrls.pgReplica2,
    },
    // The app's tables, in a schema of their own; where each statement went, and what it printed.
    prelude: [
      `import { tracingChannel } from 'node:diagnostics_channel'`,
      `import pg from 'pg'`,
      `globalThis.id = 1`,
      `globalThis.n = 'Ada'`,
      `const schema = 'scalekit_quick_start'`,
      `const inSchema = (raw) => { const url = new URL(raw); url.searchParams.set('options', \`-c search_path=\${schema}\`); return url.toString() }`,
      `const client = new pg.Client({ connectionString: process.env.DATABASE_URL })`,
      `await client.connect()`,
      `await client.query(\`CREATE SCHEMA IF NOT EXISTS \${schema}; CREATE TABLE IF NOT EXISTS \${schema}.users (id int PRIMARY KEY, name text); INSERT INTO \${schema}.users VALUES (1, 'Ada') ON CONFLICT DO NOTHING; CREATE TABLE IF NOT EXISTS \${schema}.posts (id serial PRIMARY KEY, body text)\`)`,
      `await client.end()`,
      `process.env.DATABASE_URL = inSchema(process.env.DATABASE_URL)`,
      `const replicas = ['REPLICA_1_URL', 'REPLICA_2_URL'].filter((name) => process.env[name] !== undefined)`,
      `// A replica may serve the first read: it must have replayed the tables by then.`,
      `for (const name of replicas) {`,
      `  const replica = new pg.Client({ connectionString: process.env[name] })`,
      `  await replica.connect()`,
      `  for (let i = 0; ; i++) {`,
      `    const { rows } = await replica.query(\`SELECT to_regclass('\${schema}.posts') IS NOT NULL AS ready\`)`,
      `    if (rows[0].ready) break`,
      `    if (i === 200) throw new Error(\`\${name} has not replayed the quick start's tables within 20 s (replay paused?)\`)`,
      `    await new Promise((resolve) => setTimeout(resolve, 100))`,
      `  }`,
      `  await replica.end()`,
      `  process.env[name] = inSchema(process.env[name])`,
      `}`,
      `const routes = []`,
      `tracingChannel('scalekit:db-router:query').subscribe({ start: (context) => { routes.push(context) } })`,
      `const printed = []`,
      `const log = console.log`,
      `console.log = (...args) => { printed.push(JSON.stringify(args)); log(...args) }`,
      exitCheck(
        `printed.includes(JSON.stringify([[{ body: 'Hi' }]]))`,
        'the read in withConsistency did not print the post it inserted',
      ).trimEnd(),
      exitCheck(
        `replicas.length === 0 || routes.some((r) => r.role === 'replica')`,
        'no statement went to a replica, though the quick start had replicas',
      ).trimEnd(),
      exitCheck(
        `routes.every((r) => r.classification === 'select' || r.role === 'primary')`,
        'a statement that is not a plain SELECT went to a replica',
      ),
    ].join('\n'),
    sections: [
      {
        // The example's three shards are the three clusters of `services.sh up --shards`. None has a
        // replica here: the one the example gives shard a is shard a's own server under another
        // name (localhost), which the router recognises and leaves out (its reads go to the primary).
        heading: 'Shards',
        embedded: false,
        env: { SCALEKIT_README_SHARD_URLS: readmeShards.join(',') },
        replace: {
          'postgres://app@shard-a-replica/app': (readmeShards[0] ?? '').replace('127.0.0.1', 'localhost'),
          'postgres://app@shard-a/app': readmeShards[0] ?? '',
          'postgres://app@shard-b/app': readmeShards[1] ?? '',
          'postgres://app@shard-c/app': readmeShards[2] ?? '',
        },
        // The orders table on every shard, emptied; `sharded` over the same shards for the ids
        // example; which shard each call went to, and what the example printed.
        prelude: [
          `import { tracingChannel } from 'node:diagnostics_channel'`,
          `import pg from 'pg'`,
          `import { createShardMap, createShardedRouter } from '@scalekit/db-router/shards'`,
          `const urls = process.env.SCALEKIT_README_SHARD_URLS.split(',')`,
          `const names = ['a', 'b', 'c']`,
          `globalThis.tenantId = 'tenant-42'`,
          `for (const url of urls) {`,
          `  const client = new pg.Client({ connectionString: url })`,
          `  await client.connect()`,
          `  await client.query('CREATE SCHEMA IF NOT EXISTS scalekit_readme_shards; CREATE TABLE IF NOT EXISTS scalekit_readme_shards.orders (tenant_id text NOT NULL, id bigint NOT NULL, total numeric NOT NULL); TRUNCATE scalekit_readme_shards.orders')`,
          `  await client.end()`,
          `}`,
          `const shards = Object.fromEntries(names.map((name, i) => [name, { primary: urls[i] }]))`,
          `globalThis.sharded = createShardedRouter({ shards, map: { strategy: 'hash' }, shardColumn: 'tenant_id' })`,
          `let closed = false`,
          `process.on('beforeExit', () => { if (!closed) { closed = true; void globalThis.sharded.close() } })`,
          `const owner = createShardMap({ strategy: 'hash' }, names).shardOf(globalThis.tenantId)`,
          `const calls = []`,
          `tracingChannel('scalekit:db-router:shard').subscribe({ start: (context) => { calls.push(context) } })`,
          `const printed = []`,
          `const log = console.log`,
          `console.log = (...args) => { printed.push(JSON.stringify(args)); log(...args) }`,
          exitCheck(
            `calls.some((c) => c.route === 'statement') && calls.some((c) => c.route === 'key') && calls.filter((c) => c.route !== 'all').every((c) => c.shard === owner)`,
            'a statement or transaction keyed by tenantId did not go to the shard the hash map gives it',
          ).trimEnd(),
          exitCheck(
            `calls.filter((c) => c.route === 'all').map((c) => c.shard).sort().join() === 'a,a,b,b,c,c'`,
            'the two cross-shard queries did not each run on shards a, b and c',
          ).trimEnd(),
          exitCheck(
            `printed.includes(JSON.stringify([1, 1, [{ n: '1', sum: '0' }], []]))`,
            'the example did not print its one order, found by key and across shards, with its total set to 0',
          ),
        ].join('\n'),
      },
    ],
  },
}

function run(cmd: string, args: string[], cwd: string, env?: NodeJS.ProcessEnv): string {
  try {
    return execFileSync(cmd, args, {
      cwd,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      env: env ?? process.env,
      timeout: RUN_TIMEOUT_MS * 4,
    })
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string }
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}\n${e.stdout ?? ''}${e.stderr ?? e.message}`)
  }
}

/** The quick starts of a README: the ```ts blocks of each `## Quick start…` section, joined per section. */
export function quickStartCode(readme: string): string[] {
  return sectionCode(readme, /^## quick start/i)
}

/** The ```ts blocks of each `## ` section whose heading matches, joined per section (its `###` included). */
function sectionCode(readme: string, heading: RegExp): string[] {
  if (!existsSync(readme)) return []
  const sections: string[][] = []
  let current: string[] | undefined
  let open: string[] | undefined
  for (const line of readFileSync(readme, 'utf8').split('\n')) {
    if (open !== undefined) {
      if (/^```\s*$/.test(line)) {
        current?.push(open.join('\n'))
        open = undefined
      } else open.push(line)
      continue
    }
    if (/^## /.test(line)) {
      current = heading.test(line) ? [] : undefined
      if (current !== undefined) sections.push(current)
    } else if (current !== undefined && /^```(ts|typescript)\s*$/.test(line)) open = []
  }
  return sections.filter((blocks) => blocks.length > 0).map((blocks) => blocks.join('\n'))
}

/** The same example as a CommonJS user writes it: imports on top, the rest in an async main. */
function asCommonJs(code: string): string {
  const lines = code.split('\n')
  const imports = lines.filter((l) => /^import\s.+\sfrom\s/.test(l))
  const body = lines.filter((l) => !/^import\s.+\sfrom\s/.test(l))
  return `${imports.join('\n')}\n\nasync function main(): Promise<void> {\n${body.join('\n')}\n}\n\nmain().catch((error: unknown) => {\n  console.error(error)\n  process.exitCode = 1\n})\n`
}

const tsconfig = (include: string[], emit: boolean): string =>
  JSON.stringify({
    compilerOptions: {
      strict: true,
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      types: ['node'],
      // As `tsc --init` sets it: ioredis 6's own declarations import untyped `redis-errors`.
      skipLibCheck: true,
      ...(emit ? { outDir: 'out', rootDir: '.' } : { noEmit: true }),
    },
    include,
  })

function installApp(app: string, packed: PackedPackage[], problems: string[]): void {
  writeFileSync(
    join(app, 'package.json'),
    JSON.stringify({ name: 'consumer', private: true, version: '1.0.0' }),
  )
  // What a subpath needs beside the package (express-session, @opentelemetry/api…): its optional
  // peers, in the range the package declares, as a user of that subpath installs them.
  const chosen = new Set(APP_DEPENDENCIES.map(baseName))
  const peers = new Map<string, string>()
  for (const p of packed) {
    const manifest = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8')) as {
      peerDependencies?: Record<string, string>
    }
    for (const [name, range] of Object.entries(manifest.peerDependencies ?? {})) {
      if (!chosen.has(name)) peers.set(name, `${name}@${range}`)
    }
  }
  const started = Date.now()
  run(
    'npm',
    [
      'install',
      '--no-audit',
      '--no-fund',
      '--loglevel=error',
      '--engine-strict=false',
      ...packed.map((p) => p.tarball),
      ...APP_DEPENDENCIES,
      ...peers.values(),
      ...APP_TYPES,
    ],
    app,
  )
  const version = (name: string): string =>
    (JSON.parse(readFileSync(join(app, 'node_modules', name, 'package.json'), 'utf8')) as { version: string })
      .version
  console.log(
    `  consumer: npm installed ${packed.length} tarballs next to ${[...APP_DEPENDENCIES.map(baseName), ...peers.keys()].map((d) => `${d} ${version(d)}`).join(', ')} in ${((Date.now() - started) / 1000).toFixed(1)} s`,
  )
  // The app's ioredis satisfies the cache's range: the cache uses it, never a copy of its own.
  for (const p of packed) {
    if (existsSync(join(app, 'node_modules', p.name, 'node_modules', 'ioredis'))) {
      problems.push(`consumer: ${p.name} installed its own ioredis beside the app's ${version('ioredis')}`)
    }
  }
}

function checkLoads(app: string, packed: PackedPackage[], problems: string[]): void {
  const specs = packed.flatMap((p) => p.subpaths.map((s) => (s === '.' ? p.name : `${p.name}/${s.slice(2)}`)))
  const list = JSON.stringify(specs)
  writeFileSync(
    join(app, 'esm.mjs'),
    `for (const s of ${list}) { const m = await import(s); console.log(s, Object.keys(m).sort().join(',')) }`,
  )
  writeFileSync(
    join(app, 'cjs.cjs'),
    `for (const s of ${list}) { const m = require(s); console.log(s, Object.keys(m).sort().join(',')) }`,
  )
  const esm = run(process.execPath, ['esm.mjs'], app).trim().split('\n')
  const cjs = run(process.execPath, ['cjs.cjs'], app).trim().split('\n')
  specs.forEach((spec, i) => {
    const names = esm[i]?.split(' ')[1] ?? ''
    if (names === '') problems.push(`consumer: import('${spec}') exports nothing`)
    if (esm[i] !== cjs[i])
      problems.push(`consumer: import and require of ${spec} differ:\n  ${esm[i]}\n  ${cjs[i]}`)
    console.log(`  consumer ok: ${spec} (import + require: ${names})`)
  })
}

/** A TypeScript project of the app, compiled with the others in one `tsc -b`. */
interface Project {
  /** Its directory, relative to the app. */
  dir: string
  what: string
  /** How a README example runs once compiled: its package, context, and requests if it serves. */
  run?: { pkg: string; setup: Omit<QuickStart, 'sections'> | undefined; exercise: string | undefined }
}

/** Every public entry under strict TypeScript, in ESM and CJS, with the app's own ioredis client. */
function entriesProject(app: string, packed: PackedPackage[]): Project {
  const dir = join(app, 'types')
  mkdirSync(dir)
  const names = new Set(packed.map((p) => p.name))
  const specs = packed.flatMap((p) => p.subpaths.map((s) => (s === '.' ? p.name : `${p.name}/${s.slice(2)}`)))
  const imports = [
    ...specs.map((s, i) => `import * as entry${i} from '${s}'`),
    `import { Cluster, Redis } from 'ioredis'`,
  ]
  const body = [
    `export const entries = [${specs.map((_, i) => `entry${i}`).join(', ')}] as const`,
    `const app = new Redis({ lazyConnect: true })`,
    `const cluster = new Cluster([{ host: '127.0.0.1', port: 7001 }], { lazyConnect: true })`,
  ]
  // The app's client of whatever ioredis major npm installed, standalone and Cluster.
  if (names.has('@scalekit/cache')) {
    imports.push(`import { createCache } from '@scalekit/cache'`)
    body.push(
      `export const caches = [app, cluster].map((redis) => createCache({ namespace: 'types', redis }))`,
    )
  }
  if (names.has('@scalekit/queue')) {
    imports.push(`import { createRedisDedupStore } from '@scalekit/queue'`)
    body.push(`export const stores = [app, cluster].map((redis) => createRedisDedupStore({ redis }))`)
  }
  const source = `${imports.join('\n')}\n\n${body.join('\n')}\n`
  writeFileSync(join(dir, 'entries.mts'), source)
  writeFileSync(join(dir, 'entries.cts'), source)
  writeFileSync(join(dir, 'tsconfig.json'), tsconfig(['entries.mts', 'entries.cts'], false))
  return { dir: 'types', what: `the ${specs.length} public entries (ESM + CJS, the app's ioredis client)` }
}

/** A README example as written (ESM) and in an async main (CJS), with its package's context types. */
function exampleProject(app: string, p: PackedPackage, dir: string, code: string): void {
  mkdirSync(join(app, dir), { recursive: true })
  writeFileSync(join(app, dir, 'quick-start.mts'), `${code}\nexport {}\n`)
  writeFileSync(join(app, dir, 'quick-start.cts'), `${asCommonJs(code)}\nexport {}\n`)
  const include = ['quick-start.mts', 'quick-start.cts']
  const context = join(p.dir, 'test', 'docs', 'readme-context.d.ts')
  if (existsSync(context)) {
    copyFileSync(context, join(app, dir, 'context.d.ts'))
    include.push('context.d.ts')
  }
  writeFileSync(join(app, dir, 'tsconfig.json'), tsconfig(include, true))
}

/**
 * A package's quick starts (`quick-start/<name>`, `-2`, `-3`… for several) and the other sections
 * its `quickStarts` entry runs (`section/<name>-<heading>`), each a project of its own.
 */
function quickStartProjects(app: string, p: PackedPackage): Project[] {
  const readme = join(p.dir, 'README.md')
  const name = p.name.replace('@scalekit/', '')
  const setup = quickStarts[p.name]
  const codes = quickStartCode(readme)
  if (codes.length === 0) console.log(`  consumer: ${p.name} has no quick start`)
  const projects = codes.map((code, i): Project => {
    const dir = join('quick-start', `${name}${i === 0 ? '' : `-${i + 1}`}`)
    exampleProject(app, p, dir, code)
    return {
      dir,
      what: `the ${p.name} quick start${codes.length > 1 ? ` #${i + 1}` : ''}`,
      run: {
        pkg: p.name,
        setup:
          setup?.notRunNumbers?.[i + 1] === undefined
            ? setup
            : { ...setup, notRun: setup.notRunNumbers[i + 1] },
        exercise: setup?.serve?.[i],
      },
    }
  })
  for (const section of setup?.sections ?? []) {
    const escaped = section.heading.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
    const code = sectionCode(readme, new RegExp(`^## ${escaped}\\s*$`))[0]
    const slug = section.heading.toLowerCase().replace(/[^a-z0-9]+/g, '-')
    if (code === undefined) {
      throw new Error(`consumer: ${p.name}'s README has no ## ${section.heading} section with a ts block`)
    }
    const dir = join('section', `${name}-${slug}`)
    const replaced = Object.entries(section.replace ?? {}).reduce(
      (text, [placeholder, actual]) => text.replaceAll(placeholder, actual),
      code,
    )
    exampleProject(app, p, dir, replaced)
    const what = `the ${p.name} README section "${section.heading}"`
    projects.push({ dir, what, run: { pkg: p.name, setup: section, exercise: section.serve?.[0] } })
  }
  return projects
}

/**
 * Compiles every project in one `tsc -b` (one process: the libraries' declarations are read once);
 * returns the projects that failed, each error reported under the project it is in.
 */
function compile(app: string, projects: Project[], problems: string[], tsc: string): Set<string> {
  const failed = new Set<string>()
  try {
    run(tsc, ['-b', ...projects.map((p) => p.dir), '--pretty', 'false'], app)
  } catch (error) {
    const lines = (error as Error).message.split('\n').slice(1)
    for (const project of projects) {
      const own = lines.filter((l) => l.startsWith(`${project.dir}/`))
      if (own.length === 0) continue
      failed.add(project.dir)
      problems.push(`consumer: ${project.what} do(es) not compile under strict:\n${own.join('\n')}`)
    }
    if (failed.size === 0) problems.push(`consumer: tsc -b failed:\n${(error as Error).message}`)
  }
  for (const project of projects) {
    if (!failed.has(project.dir)) console.log(`  consumer ok: ${project.what} compile(s) under strict`)
  }
  return failed
}

/**
 * Loaded before a server quick start: its `listen(3000)` (Express) or `listen({ port: 3000 })`
 * (Fastify) takes a free port instead, so runs never collide with each other or with anything on
 * 3000, and the port is sent to `serve.mjs` over IPC once the server listens.
 */
const LISTEN_ON_A_FREE_PORT = `import net from 'node:net'
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (args[0] === 3000) args[0] = 0
  else if (typeof args[0] === 'object' && args[0] !== null && args[0].port === 3000) args[0] = { ...args[0], port: 0 }
  this.once('listening', () => {
    const address = this.address()
    if (typeof address === 'object' && address !== null) process.send?.({ listening: address })
  })
  return listen.apply(this, args)
}
`

/**
 * Runs a server quick start (`node serve.mjs out/quick-start.mjs`): starts it with its prelude,
 * waits for it to listen, runs `exercise.mjs` against it, then stops it; exits 1 with the reason
 * when the example exits early, does not listen, or answers other than the README says.
 */
const SERVE = `import { spawn } from 'node:child_process'
import assert from 'node:assert/strict'
import { once } from 'node:events'
import exercise from './exercise.mjs'
const child = spawn(process.execPath, ['--import', './prelude.mjs', '--import', '../../listen.mjs', process.argv[2]], {
  stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
})
const exited = once(child, 'exit')
// Timed out by the runner: take the server down too, never leave it listening.
process.on('SIGTERM', () => {
  child.kill('SIGKILL')
  process.exit(1)
})
try {
  const address = await new Promise((resolve, reject) => {
    child.on('message', (message) => { if (message?.listening) resolve(message.listening) })
    void exited.then(([code, signal]) => reject(new Error('the quick start exited (' + (code ?? signal) + ') before it listened')))
  })
  const host = address.family === 'IPv6' ? (address.address === '::' ? '127.0.0.1' : '[' + address.address + ']') : address.address === '0.0.0.0' ? '127.0.0.1' : address.address
  await exercise('http://' + host + ':' + address.port, assert)
} finally {
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
  await exited
}
`

/** Runs each compiled README example in ESM and CJS, against the services and, if it has one, its embedded default. */
function runQuickStarts(app: string, projects: Project[], problems: string[]): void {
  const services: NodeJS.ProcessEnv = {
    REDIS_URL: serviceUrls.redis,
    AMQP_URL: serviceUrls.amqp,
    DATABASE_URL: serviceUrls.pg,
  }
  const setups = Object.values(quickStarts).flatMap((q) => [q, ...(q.sections ?? [])])
  const named = new Set([...Object.keys(services), ...setups.flatMap((q) => Object.keys(q.env ?? {}))])
  const base: NodeJS.ProcessEnv = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !named.has(name)),
  )
  writeFileSync(join(app, 'listen.mjs'), LISTEN_ON_A_FREE_PORT)
  for (const { dir, run } of projects) {
    if (run === undefined) continue
    const { pkg, setup, exercise } = run
    if (setup === undefined || setup.notRun !== undefined) {
      const why =
        setup?.notRun ?? 'no runtime context for the names it takes as given (see quickStarts above)'
      console.log(`  consumer: ${pkg} ${dir} compiles; not run: ${why}`)
      continue
    }
    const envs: [string, NodeJS.ProcessEnv][] = []
    if (setup.services !== false) envs.push(['services', { ...base, ...services, ...setup.env }])
    if (setup.embedded) envs.push(['embedded', base])
    writeFileSync(join(app, dir, 'prelude.mjs'), setup.prelude)
    if (exercise !== undefined) {
      writeFileSync(join(app, dir, 'serve.mjs'), SERVE)
      writeFileSync(
        join(app, dir, 'exercise.mjs'),
        `export default async (base, assert) => {\n${exercise}\n}\n`,
      )
    }
    for (const [label, env] of envs) {
      for (const file of ['quick-start.mjs', 'quick-start.cjs']) {
        const what = `${dir} (${file.endsWith('.mjs') ? 'ESM' : 'CJS'}, ${label}${exercise === undefined ? '' : ', served and requested'})`
        const started = Date.now()
        const args =
          exercise === undefined
            ? ['--import', './prelude.mjs', join('out', file)]
            : ['serve.mjs', join('out', file)]
        try {
          execFileSync(process.execPath, args, {
            cwd: join(app, dir),
            env,
            encoding: 'utf8',
            stdio: ['ignore', 'pipe', 'pipe'],
            timeout: RUN_TIMEOUT_MS,
          })
          console.log(`  consumer ok: ${pkg} ${what} runs in ${Date.now() - started} ms`)
        } catch (error) {
          const e = error as { stdout?: string; stderr?: string; signal?: string; message: string }
          const why = e.signal === 'SIGTERM' ? `did not exit within ${RUN_TIMEOUT_MS} ms` : 'failed'
          // This check needs the services (CI starts them all); say so where they may be the cause.
          const hint =
            label === 'services'
              ? '\n(it ran against the services: are they up? `bash scripts/services.sh status`, `up --all`)'
              : ''
          problems.push(`consumer: ${pkg} ${what} ${why}:\n${e.stdout ?? ''}${e.stderr ?? e.message}${hint}`)
        }
      }
    }
  }
}

/** Runs the checks above in a fresh npm project; adds what fails to `problems`. */
export function checkConsumerApp(packed: PackedPackage[], problems: string[], tsc: string): void {
  const app = mkdtempSync(join(tmpdir(), 'scalekit-consumer-'))
  const keep = process.env.SCALEKIT_CONSUMER_KEEP === '1'
  const phase = (name: string, work: () => void): void => {
    const started = Date.now()
    work()
    console.log(`  consumer: ${name} took ${((Date.now() - started) / 1000).toFixed(1)} s`)
  }
  try {
    phase('npm install', () => {
      installApp(app, packed, problems)
    })
    phase('loading every entry', () => {
      checkLoads(app, packed, problems)
    })
    let compiled: Project[] = []
    phase('compiling every entry and README example', () => {
      const projects = [entriesProject(app, packed), ...packed.flatMap((p) => quickStartProjects(app, p))]
      const failed = compile(app, projects, problems, tsc)
      compiled = projects.filter((p) => !failed.has(p.dir))
    })
    phase('running the README examples', () => {
      runQuickStarts(app, compiled, problems)
    })
  } finally {
    if (keep) console.log(`  consumer: the app is kept in ${app} (SCALEKIT_CONSUMER_KEEP=1)`)
    else rmSync(app, { recursive: true, force: true })
  }
}

/**
 * Proves every published package installs and loads as a user would get it:
 *  1. the exports map names exactly the entries tsup builds, and every file it points to exists;
 *  2. publint finds no problem in the package;
 *  3. @arethetypeswrong/cli finds no problem in the packed tarball (node16 ESM + CJS, bundler);
 *  4. no built file names `@scalekit/internal` (the shared source is bundled, never a dependency),
 *     and the packed package.json names no unpublished workspace package and no `workspace:`
 *     range in any dependency field (`.pnpmfile.cjs` drops devDependencies at pack time);
 *  5. the consumer app (`consumer-app.ts`): the tarballs install with npm into a fresh project
 *     next to today's ioredis, pg, amqplib, express 5, fastify 5, zod and the packages' optional
 *     peers (express-session, @opentelemetry/api…); every entry point loads
 *     with `import` and `require`, with the same names; every public entry type-checks under strict
 *     (ESM and CJS); each README quick start compiles and runs as written, in ESM and CJS (a server
 *     quick start is started, sent real requests whose answers are checked, and stopped).
 * Run after `pnpm build`.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { checkConsumerApp } from './consumer-app'

interface Conditions {
  types: string
  default: string
}
interface ExportTarget {
  import: Conditions
  require: Conditions
}
interface PackageJson {
  name: string
  private?: boolean
  exports: Record<string, ExportTarget | string>
  dependencies?: Record<string, string>
  devDependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
}
interface Checked {
  dir: string
  pkg: PackageJson
  subpaths: string[]
  tarball: string
}

const root = resolve(import.meta.dirname, '..')
const bin = (name: string): string => join(root, 'node_modules', '.bin', name)
const problems: string[] = []

function run(cmd: string, args: string[], cwd: string): string {
  try {
    return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (error) {
    const e = error as { stdout?: string; stderr?: string; message: string }
    throw new Error(`${cmd} ${args.join(' ')} failed in ${cwd}\n${e.stdout ?? ''}${e.stderr ?? e.message}`)
  }
}

function expectedTarget(entry: string): ExportTarget {
  return {
    import: { types: `./dist/${entry}.d.ts`, default: `./dist/${entry}.js` },
    require: { types: `./dist/${entry}.d.cts`, default: `./dist/${entry}.cjs` },
  }
}

async function checkExportsMatchEntries(dir: string, pkg: PackageJson): Promise<string[]> {
  const config = (await import(pathToFileURL(join(dir, 'tsup.config.ts')).href)) as {
    entries: Record<string, string>
  }
  const expected = new Map(
    Object.keys(config.entries).map((e) => [e === 'index' ? '.' : `./${e}`, expectedTarget(e)]),
  )
  const actual = Object.keys(pkg.exports).filter((k) => k !== './package.json')
  for (const key of actual)
    if (!expected.has(key)) problems.push(`${pkg.name}: exports["${key}"] has no tsup entry`)
  for (const [key, target] of expected) {
    const got = pkg.exports[key]
    if (JSON.stringify(got) !== JSON.stringify(target)) {
      problems.push(
        `${pkg.name}: exports["${key}"] should be ${JSON.stringify(target)}, is ${JSON.stringify(got)}`,
      )
    }
    for (const file of [
      target.import.types,
      target.import.default,
      target.require.types,
      target.require.default,
    ]) {
      if (!existsSync(join(dir, file))) problems.push(`${pkg.name}: ${file} is missing (run pnpm build)`)
    }
  }
  return [...expected.keys()]
}

function checkInternalBundled(dir: string, pkg: PackageJson): void {
  for (const file of readdirSync(join(dir, 'dist'))) {
    if (file.endsWith('.map')) continue
    if (readFileSync(join(dir, 'dist', file), 'utf8').includes('@scalekit/internal')) {
      problems.push(
        `${pkg.name}: dist/${file} imports @scalekit/internal, which is never published (bundle it: tooling/tsup-preset.ts)`,
      )
    }
  }
}

/** Names of the workspace packages that are never published (`private: true`). */
function unpublishedNames(): Set<string> {
  const names = new Set<string>()
  for (const group of ['packages', 'tooling']) {
    for (const name of readdirSync(join(root, group))) {
      const file = join(root, group, name, 'package.json')
      if (!existsSync(file)) continue
      const pkg = JSON.parse(readFileSync(file, 'utf8')) as PackageJson
      if (pkg.private === true) names.add(pkg.name)
    }
  }
  return names
}

const DEPENDENCY_FIELDS = [
  'dependencies',
  'devDependencies',
  'optionalDependencies',
  'peerDependencies',
] as const

/** The manifest inside a tarball may not send npm after a package that is not on the registry. */
function checkPackedManifest(tarball: string, unpublished: Set<string>): void {
  const packed = JSON.parse(run('tar', ['-xOzf', tarball, 'package/package.json'], root)) as PackageJson
  for (const field of DEPENDENCY_FIELDS) {
    for (const [dep, range] of Object.entries(packed[field] ?? {})) {
      if (unpublished.has(dep) || range.startsWith('workspace:')) {
        problems.push(
          `${packed.name}: the packed package.json lists ${field}["${dep}"] = "${range}", which npm cannot install (never published); .pnpmfile.cjs drops devDependencies at pack time`,
        )
      }
    }
  }
}

const packDir = mkdtempSync(join(tmpdir(), 'scalekit-pack-'))
const unpublished = unpublishedNames()
try {
  const checked: Checked[] = []
  for (const name of readdirSync(join(root, 'packages')).sort()) {
    const dir = join(root, 'packages', name)
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as PackageJson
    if (pkg.private === true) continue
    const subpaths = await checkExportsMatchEntries(dir, pkg)
    checkInternalBundled(dir, pkg)
    run(bin('publint'), ['--strict'], dir)
    const before = new Set(readdirSync(packDir))
    run('pnpm', ['pack', '--pack-destination', packDir], dir)
    const tarball = readdirSync(packDir).find((f) => !before.has(f))
    if (tarball === undefined) throw new Error(`pnpm pack left no tarball for ${pkg.name}`)
    checkPackedManifest(join(packDir, tarball), unpublished)
    run(bin('attw'), [join(packDir, tarball), '--profile', 'node16', '--format', 'ascii'], dir)
    console.log(`${pkg.name}: exports match entries ${subpaths.join(' ')}; publint and attw clean`)
    checked.push({ dir, pkg, subpaths, tarball: join(packDir, tarball) })
  }
  checkConsumerApp(
    checked.map((c) => ({ dir: c.dir, name: c.pkg.name, subpaths: c.subpaths, tarball: c.tarball })),
    problems,
    bin('tsc'),
  )
} catch (error) {
  problems.push(error instanceof Error ? error.message : String(error))
} finally {
  rmSync(packDir, { recursive: true, force: true })
}

if (problems.length > 0) {
  console.error(`package checks failed:\n- ${problems.join('\n- ')}`)
  process.exit(1)
}
console.log('package checks: all packages clean')

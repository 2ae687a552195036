/**
 * Docs are code: every ```ts block of every package README is type-checked under the repository's
 * strict settings, against the package as published (its built `dist/` types, reached through the
 * package's own exports map), so a README example that no longer compiles fails CI. Run after
 * `pnpm build`.
 *
 * A README's blocks share one file of ambient declarations for the names an example takes as given
 * (`id`, `app`, `handler`…): `packages/<name>/test/docs/readme-context.d.ts`. Each block is its own
 * module; top-level `await` works. A block fenced as ```ts fragment is an excerpt (one call, one
 * options object) and is checked as the body of an async function.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

interface Block {
  readme: string
  line: number
  code: string
  fragment: boolean
}

const root = resolve(import.meta.dirname, '..')

function blocks(readme: string): Block[] {
  const found: Block[] = []
  let open: { line: number; lines: string[]; fragment: boolean } | undefined
  readFileSync(readme, 'utf8')
    .split('\n')
    .forEach((text, i) => {
      const fence = /^```(\S*)\s*(\S*)/.exec(text)
      if (open === undefined) {
        if (fence !== null && /^(ts|typescript)$/.test(fence[1] ?? '')) {
          open = { line: i + 2, lines: [], fragment: fence[2] === 'fragment' }
        }
        return
      }
      if (fence !== null && fence[1] === '') {
        found.push({ readme, line: open.line, code: open.lines.join('\n'), fragment: open.fragment })
        open = undefined
        return
      }
      open.lines.push(text)
    })
  return found
}

const failures: string[] = []
let checked = 0
for (const name of readdirSync(join(root, 'packages')).sort()) {
  const dir = join(root, 'packages', name)
  const readme = join(dir, 'README.md')
  if (!existsSync(readme)) continue
  const found = blocks(readme)
  if (found.length === 0) continue
  const work = join(dir, '.readme-check')
  rmSync(work, { recursive: true, force: true })
  mkdirSync(work)
  const files = found.map((block, i) => {
    const file = `block-${i + 1}.ts`
    const body = block.fragment
      ? `export {}\nasync function fragment(): Promise<void> {\n${block.code}\n}\nvoid fragment\n`
      : `${block.code}\nexport {}\n`
    writeFileSync(join(work, file), body)
    return { file, block, offset: block.fragment ? 2 : 0 }
  })
  const context = join(dir, 'test', 'docs', 'readme-context.d.ts')
  writeFileSync(
    join(work, 'tsconfig.json'),
    JSON.stringify({
      extends: '../../../tsconfig.base.json',
      compilerOptions: { isolatedDeclarations: false, declaration: false, noUnusedLocals: false },
      include: ['*.ts', ...(existsSync(context) ? ['../test/docs/readme-context.d.ts'] : [])],
    }),
  )
  checked += found.length
  try {
    execFileSync(
      join(root, 'node_modules', '.bin', 'tsc'),
      ['-p', join(work, 'tsconfig.json'), '--pretty', 'false'],
      {
        cwd: work,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    console.log(`check-docs: ${relative(root, readme)}: ${found.length} block(s) compile`)
  } catch (error) {
    const out = (error as { stdout?: string }).stdout ?? String(error)
    for (const line of out.split('\n')) {
      const m = /^(block-(\d+)\.ts)\((\d+),(\d+)\): (.*)$/.exec(line)
      if (m === null) {
        if (line.trim() !== '') failures.push(`${relative(root, readme)}: ${line}`)
        continue
      }
      const entry = files[Number(m[2]) - 1]
      if (entry === undefined) continue
      const at = entry.block.line + Number(m[3]) - 1 - entry.offset
      failures.push(`${relative(root, readme)}:${at}:${m[4]}: ${m[5]}`)
    }
  } finally {
    rmSync(work, { recursive: true, force: true })
  }
}

if (failures.length > 0) {
  console.error(`check-docs: README examples that do not compile under strict:\n${failures.join('\n')}`)
  process.exit(1)
}
console.log(`check-docs: ${checked} README block(s) compile under strict`)

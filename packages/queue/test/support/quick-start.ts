import { execFile } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)
const packageDir = resolve(import.meta.dirname, '../..')

/** What a run of the README's quick start printed, and how it ended. */
export interface QuickStartRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the first ```ts block of the README (the quick start) as written, in a process of its own,
 * against this package's source: `sendReceipt` prints `receipt <id>`. `replace` swaps literal
 * text first (the RabbitMQ run swaps `'memory:'` for a URL). The process must exit by itself.
 */
export async function runQuickStart(replace: Readonly<Record<string, string>> = {}): Promise<QuickStartRun> {
  const readme = await readFile(join(packageDir, 'README.md'), 'utf8')
  const block = /^## Quick start\n```ts\n([\s\S]*?)\n```/m.exec(readme)?.[1]
  if (block === undefined) throw new Error('README.md has no ```ts block under "## Quick start"')
  let code = block.replaceAll(
    "from '@scalekit/queue'",
    `from ${JSON.stringify(join(packageDir, 'src/index.ts'))}`,
  )
  for (const [from, to] of Object.entries(replace)) {
    if (!code.includes(from)) throw new Error(`the quick start no longer contains ${from}`)
    code = code.replaceAll(from, to)
  }
  const prelude =
    'const sendReceipt = async (orderId: number): Promise<void> => void console.log(`receipt ${orderId}`)\n'
  // Inside the package, so the block's own imports (zod) resolve as in an app.
  const dir = await mkdtemp(join(packageDir, '.readme-check-quick-start-'))
  const file = join(dir, 'quick-start.mts')
  try {
    await writeFile(file, prelude + code)
    try {
      const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', file], {
        cwd: packageDir,
        timeout: 30_000,
      })
      return { code: 0, stdout, stderr }
    } catch (error) {
      const e = error as { code?: unknown; stdout?: string; stderr?: string; killed?: boolean }
      return {
        code: typeof e.code === 'number' ? e.code : -1,
        stdout: e.stdout ?? '',
        stderr: `${e.killed === true ? '(killed after 30 s: it did not exit by itself)\n' : ''}${e.stderr ?? ''}`,
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

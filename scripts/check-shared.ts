/**
 * Fails when a package writes again what `packages/internal` (the shared source) already provides:
 * each rule names a shape that belongs there and the shared piece to call instead. Runs over every
 * package's `src/` but the shared source itself. A line may opt out with a trailing
 * `// check-shared: <why>` comment, which a reviewer then reads.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'

interface Rule {
  pattern: RegExp
  use: string
}

const rules: Rule[] = [
  { pattern: /\bfunction (toMs|parseDuration|durationMs)\b/, use: 'createChecks().duration / parseDuration' },
  { pattern: /\bfunction (positiveInt|positive|nonNegative|integer)\b/, use: 'createChecks()' },
  { pattern: /\bfunction (sleep|delay|wait)\b/, use: 'sleep' },
  { pattern: /\bfunction withTimeout\b|Promise\.race\(/, use: 'withTimeout or DeadlineSweep.race' },
  { pattern: /\bfunction backoffDelay\b|\*\*\s*\(?attempt/, use: 'backoffDelay' },
  { pattern: /setTimeout\(resolve\b/, use: 'sleep' },
  { pattern: /\bclass \w*Deadlines?\b|#sweep\(|\bsetInterval\([^)]*sweep/i, use: 'DeadlineSweep' },
  { pattern: /\bextends Error\b/, use: 'CodedError (through the package base error)' },
  { pattern: /(?<!:\s*)['"`]scalekit:/, use: 'channelName / channelPrefix' },
  { pattern: /\bNOSCRIPT\b|\bevalsha\(/, use: 'RedisScript' },
  { pattern: /\bfunction isPromiseLike\b|\.then === 'function'/, use: 'isPromiseLike' },
]

const root = resolve(import.meta.dirname, '..')
const problems: string[] = []

function* files(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) yield* files(path)
    else if (/\.(ts|mts|cts)$/.test(name)) yield path
  }
}

for (const pkg of readdirSync(join(root, 'packages'))) {
  if (pkg === 'internal') continue
  const src = join(root, 'packages', pkg, 'src')
  try {
    statSync(src)
  } catch {
    continue
  }
  for (const file of files(src)) {
    readFileSync(file, 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (line.includes('// check-shared:') || /^\s*(\/\*|\*|\/\/)/.test(line)) return
        for (const rule of rules) {
          if (rule.pattern.test(line))
            problems.push(
              `${relative(root, file)}:${i + 1}: use ${rule.use} from @scalekit/internal\n    ${line.trim()}`,
            )
        }
      })
  }
}

if (problems.length > 0) {
  console.error(
    `check-shared: ${problems.length} place(s) re-implement the shared source:\n${problems.join('\n')}`,
  )
  process.exit(1)
}
console.log('check-shared: no package re-implements the shared source')

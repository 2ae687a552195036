import { fileURLToPath } from 'node:url'
import type { Options } from 'tsup'

const INTERNAL = fileURLToPath(new URL('../packages/internal/src/index.ts', import.meta.url))

/**
 * The one build shape every published package uses: ESM + CJS + .d.ts/.d.cts from one entry list.
 * `scripts/check-packages.ts` proves the package.json exports map names exactly these entries, and
 * that no built file still names `@scalekit/internal`.
 */
export function definePackageBuild(entry: Record<string, string>): Options {
  return {
    entry,
    format: ['esm', 'cjs'],
    // The shared source (packages/internal) is never published: bundle its code and its types into
    // each package, so no published package depends on another at run time.
    noExternal: [/^@scalekit\/internal/],
    dts: { compilerOptions: { paths: { '@scalekit/internal': [INTERNAL] } } },
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: true,
    treeshake: true,
    outDir: 'dist',
  }
}

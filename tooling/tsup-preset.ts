import type { Options } from 'tsup'

/**
 * The one build shape every published package uses: ESM + CJS + .d.ts/.d.cts from one entry list.
 * `scripts/check-packages.ts` proves the package.json exports map names exactly these entries.
 */
export function definePackageBuild(entry: Record<string, string>): Options {
  return {
    entry,
    format: ['esm', 'cjs'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: true,
    treeshake: true,
    outDir: 'dist',
  }
}

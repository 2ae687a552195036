// pnpm hooks of the workspace (CommonJS: pnpm requires this file).
/* global module */
module.exports = {
  hooks: {
    /**
     * The manifest `pnpm pack` / `pnpm publish` writes into a tarball: without devDependencies. They
     * only matter inside this repository, and pnpm would otherwise publish `workspace:*` ones as
     * versions of packages that are never published (`@scalekit/internal`, `@scalekit/test-utils`).
     * `scripts/check-packages.ts` fails if a packed manifest still names one.
     */
    beforePacking(manifest) {
      delete manifest.devDependencies
      return manifest
    },
  },
}

/**
 * Writes the shipped artifacts from the metric definitions: artifacts/prometheus-rules.yml and
 * artifacts/grafana-dashboard.json, formatted by the repository's Prettier settings.
 * `pnpm --filter @scalekit/observability artifacts`; a unit test fails when the committed files
 * differ from what this writes.
 */
import { writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { renderArtifacts } from './render'

for (const [name, text] of Object.entries(await renderArtifacts()))
  writeFileSync(fileURLToPath(new URL(`../artifacts/${name}`, import.meta.url)), text)

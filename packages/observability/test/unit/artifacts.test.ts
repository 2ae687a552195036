import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { grafanaDashboard, prometheusRules, toYaml } from '../../src/artifacts/index'
import { metricDefinitions } from '../../src/index'
import { renderArtifacts } from '../../scripts/render'

const root = fileURLToPath(new URL('../../', import.meta.url))
const rulesFile = `${root}artifacts/prometheus-rules.yml`

function promtool(...args: string[]): string {
  try {
    return execFileSync('promtool', args, { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  } catch (error) {
    const { code, stdout, stderr, status, signal } = error as {
      code?: string
      stdout?: string
      stderr?: string
      status?: number | null
      signal?: string | null
    }
    if (code === 'ENOENT')
      throw new Error(
        'promtool is missing: run `sudo bash scripts/services.sh up` (installs Debian prometheus)',
      )
    throw new Error(
      `promtool ${args.join(' ')} failed (status ${String(status)}, signal ${String(signal)}):\n${stdout ?? ''}${stderr ?? ''}`,
    )
  }
}

describe('shipped artifacts', () => {
  it('are what scripts/artifacts.ts generates from the metric definitions (regenerate after a change)', async () => {
    for (const [name, text] of Object.entries(await renderArtifacts()))
      expect(readFileSync(`${root}artifacts/${name}`, 'utf8'), name).toBe(text)
  })

  it('pass promtool check rules', () => {
    expect(promtool('check', 'rules', rulesFile)).toContain('SUCCESS: 24 rules found')
  })

  it('fire on the scale-out triggers over synthetic series and stay quiet otherwise (promtool test rules)', () => {
    expect(promtool('test', 'rules', 'test/promtool/rules.test.yml')).toContain('SUCCESS')
  })

  it('name only defined metrics, and the dashboard has a panel for each', () => {
    const names = new Set(metricDefinitions.map((d) => d.name))
    const external = /^(process_|nodejs_eventloop_lag_|nodejs_heap_size_used_bytes)/
    const rules = prometheusRules().groups.flatMap((g) => g.rules)
    const recorded = new Set(rules.flatMap((r) => (r.record === undefined ? [] : [r.record])))
    for (const rule of rules) {
      const bare = rule.expr.replace(/\{[^}]*\}|by \([^)]*\)|\[[^\]]*\]/g, ' ')
      for (const [token] of bare.matchAll(/[a-z_:][a-z0-9_:]*/g)) {
        if (
          /^(sum|rate|deriv|increase|histogram_quantile|and|or)$/.test(token) ||
          recorded.has(token) ||
          external.test(token)
        )
          continue
        const metric = token.replace(/_(bucket|count|sum)$/, '')
        expect(names.has(metric) || names.has(token), `${token} in ${rule.expr}`).toBe(true)
      }
    }
    const titles = grafanaDashboard().panels.map((p) => (p as { title: string }).title)
    for (const name of names) expect(titles).toContain(name)
  })

  it('writes YAML that round-trips special strings', () => {
    expect(toYaml({ a: 'x: y', b: ['1', 'true'], c: { d: 2 }, e: [] })).toBe(
      'a: "x: y"\nb:\n  - "1"\n  - "true"\nc:\n  d: 2\ne: []\n',
    )
  })
})

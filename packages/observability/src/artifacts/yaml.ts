type Yaml = string | number | boolean | null | undefined | readonly Yaml[] | { readonly [key: string]: Yaml }

function scalar(value: string | number | boolean | null): string {
  if (typeof value !== 'string') return String(value)
  // Plain when unambiguous, else double-quoted JSON (a YAML subset).
  return /^[A-Za-z_][\w .:/-]*$/.test(value) &&
    !/^(true|false|null|yes|no|on|off|~)$/i.test(value) &&
    !value.endsWith(':') &&
    !value.includes(': ')
    ? value
    : JSON.stringify(value)
}

function lines(value: Yaml, indent: string): string[] {
  if (value === undefined) return []
  if (Array.isArray(value)) {
    if (value.length === 0) return [`${indent}[]`]
    return (value as readonly Yaml[]).flatMap((item) => {
      const inner = lines(item, `${indent}  `)
      const first = inner[0] ?? ''
      return [`${indent}- ${first.trimStart()}`, ...inner.slice(1)]
    })
  }
  if (typeof value === 'object' && value !== null) {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined)
    if (entries.length === 0) return [`${indent}{}`]
    return entries.flatMap(([key, v]) => {
      if (typeof v === 'string' && v.includes('\n'))
        return [`${indent}${key}: |-`, ...v.split('\n').map((l) => `${indent}  ${l}`)]
      if (typeof v === 'object' && v !== null && (!Array.isArray(v) || v.length > 0))
        return [`${indent}${key}:`, ...lines(v as Yaml, `${indent}  `)]
      return [`${indent}${key}: ${Array.isArray(v) ? '[]' : scalar(v as string | number | boolean | null)}`]
    })
  }
  return [`${indent}${scalar(value)}`]
}

/** `value` as block-style YAML (maps, lists, strings, numbers, booleans; multi-line strings as `|-`). */
export function toYaml(value: Yaml): string {
  return `${lines(value, '').join('\n')}\n`
}

export type { Yaml }

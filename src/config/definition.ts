// A config key is declared once: name, type, default, doc and validator. The same declaration
// parses and validates input, prints `--help` and writes docs/configuration.md.
import type { ConfigProblem } from '../errors.ts'

export type ConfigType = 'string' | 'int' | 'long' | 'double' | 'boolean' | 'list' | 'password' | 'class'
export type ConfigValue = string | number | boolean | string[]

export interface ConfigKey {
  name: string
  type: ConfigType
  /** Undefined: no default. */
  default?: ConfigValue
  doc: string
  /** Allowed values (case-insensitive for strings), shown in docs and in errors. */
  choices?: readonly string[]
  /** Inclusive bounds for numbers. */
  min?: number
  max?: number
  /** Extra check after parsing; returns what is wrong, or undefined. */
  validate?: (value: ConfigValue) => string | undefined
  /** The key is read but has no effect; the string says why (a warning is logged). */
  ignored?: string
  /** Older spelling that still works, with a warning. */
  deprecatedAlias?: string
  importance?: 'high' | 'medium' | 'low'
}

export interface ParsedConfig {
  values: Map<string, ConfigValue>
  /** Keys given explicitly (after alias resolution). */
  given: Set<string>
  problems: ConfigProblem[]
  warnings: string[]
  /** Keys nobody declared; kept so that they can still be passed on. */
  unknown: Map<string, string>
}

function parseValue (key: ConfigKey, raw: string): { value?: ConfigValue, error?: string, fix?: string } {
  const text = raw.trim()
  switch (key.type) {
    case 'int':
    case 'long': {
      if (!/^[+-]?\d+$/.test(text)) return { error: `"${raw}" is not a whole number`, fix: 'write digits only, for example 1000' }
      const n = Number(text)
      if (key.type === 'int' && (n > 2147483647 || n < -2147483648)) return { error: `${text} is out of range for an int` }
      return { value: n }
    }
    case 'double': {
      const n = Number(text)
      if (text === '' || Number.isNaN(n)) return { error: `"${raw}" is not a number` }
      return { value: n }
    }
    case 'boolean': {
      const lower = text.toLowerCase()
      if (lower === 'true') return { value: true }
      if (lower === 'false') return { value: false }
      return { error: `"${raw}" is not a boolean`, fix: 'use true or false' }
    }
    case 'list':
      return { value: text === '' ? [] : text.split(',').map(s => s.trim()).filter(s => s !== '') }
    default:
      return { value: text }
  }
}

function checkValue (key: ConfigKey, value: ConfigValue): { error: string, fix?: string } | undefined {
  if (key.choices !== undefined && typeof value === 'string') {
    if (!key.choices.some(c => c.toLowerCase() === value.toLowerCase())) {
      const close = closest(value, [...key.choices])
      return { error: `"${value}" is not allowed`, fix: `use one of: ${key.choices.join(', ')}${close !== undefined ? `; did you mean ${close}?` : ''}` }
    }
  }
  if (typeof value === 'number') {
    if (key.min !== undefined && value < key.min) return { error: `${value} is below the minimum of ${key.min}` }
    if (key.max !== undefined && value > key.max) return { error: `${value} is above the maximum of ${key.max}` }
  }
  const custom = key.validate?.(value)
  return custom !== undefined ? { error: custom } : undefined
}

/** Levenshtein distance, for "did you mean" hints. */
function distance (a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j]
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1))
      previous = saved
    }
  }
  return row[b.length]
}

export function closest (word: string, candidates: string[]): string | undefined {
  if (word.length < 3) return undefined
  let best: string | undefined
  let bestDistance = Infinity
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase())
    if (d < bestDistance) { best = c; bestDistance = d }
  }
  return bestDistance <= Math.max(2, Math.floor(word.length / 4)) ? best : undefined
}

export class ConfigDefinition {
  keys: ConfigKey[]
  #byName = new Map<string, ConfigKey>()
  #aliases = new Map<string, ConfigKey>()

  constructor (keys: ConfigKey[]) {
    this.keys = keys
    for (const key of keys) {
      if (this.#byName.has(key.name)) throw new Error(`config key ${key.name} declared twice`)
      this.#byName.set(key.name, key)
      if (key.deprecatedAlias !== undefined) this.#aliases.set(key.deprecatedAlias, key)
    }
  }

  get (name: string): ConfigKey | undefined {
    return this.#byName.get(name)
  }

  /**
   * Parses raw key/value pairs from one source (a file, the command line). Problems name the
   * source and key; nothing is thrown, so that every problem can be reported at once.
   */
  parse (raw: Iterable<[string, string]>, source: string, options: { required?: string[], warnUnknown?: boolean } = {}): ParsedConfig {
    const values = new Map<string, ConfigValue>()
    const given = new Set<string>()
    const problems: ConfigProblem[] = []
    const warnings: string[] = []
    const unknown = new Map<string, string>()

    for (const [name, text] of raw) {
      let key = this.#byName.get(name)
      if (key === undefined && this.#aliases.has(name)) {
        key = this.#aliases.get(name)!
        warnings.push(`${source}: ${name} is deprecated; use ${key.name}`)
      }
      if (key === undefined) {
        unknown.set(name, text)
        if (options.warnUnknown ?? true) {
          const hint = closest(name, [...this.#byName.keys()])
          warnings.push(`${source}: unknown key ${name}${hint !== undefined ? ` (did you mean ${hint}?)` : ''}; it is ignored`)
        }
        continue
      }
      const parsed = parseValue(key, text)
      if (parsed.error !== undefined) {
        problems.push({ source, key: key.name, message: parsed.error, fix: parsed.fix })
        continue
      }
      const invalid = checkValue(key, parsed.value!)
      if (invalid !== undefined) {
        problems.push({ source, key: key.name, message: invalid.error, fix: invalid.fix })
        continue
      }
      if (key.ignored !== undefined) warnings.push(`${source}: ${key.name} is ignored: ${key.ignored}`)
      values.set(key.name, parsed.value!)
      given.add(key.name)
    }
    for (const name of options.required ?? []) {
      if (!given.has(name)) problems.push({ source, key: name, message: 'is required', fix: this.#byName.get(name)?.doc })
    }
    for (const key of this.keys) {
      if (!values.has(key.name) && key.default !== undefined) values.set(key.name, key.default)
    }
    return { values, given, problems, warnings, unknown }
  }
}

export function formatDefault (key: ConfigKey): string {
  if (key.default === undefined) return ''
  if (Array.isArray(key.default)) return key.default.join(',')
  return String(key.default)
}

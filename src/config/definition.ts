// A config key is declared once: name, type, default, doc and validator. The same declaration
// parses and validates input, prints `--help` and writes docs/configuration.md.
import type { ConfigProblem } from '../errors.ts'
import { resolveConfigReferences } from './config-providers.ts'
import { abbreviate } from './messages.ts'
import { HIDDEN, looksSecret, rememberSecret } from './secrets.ts'

export type ConfigType = 'string' | 'int' | 'long' | 'double' | 'boolean' | 'list' | 'password' | 'class'
export type ConfigValue = string | number | boolean | string[]

export interface ConfigKey {
  /** A `<placeholder>` stands for one part of a family of names: config.providers.<name>.class. */
  name: string
  /** 'password' marks a secret: its value is never logged, printed or quoted in errors. */
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

/** Whether a key's value must never be shown; keys nobody declared are judged by their name. */
export function isSecret (key: ConfigKey | undefined, name = key?.name ?? ''): boolean {
  return key !== undefined ? key.type === 'password' : looksSecret(name)
}

/**
 * How a value appears in an error message: quoted as typed, or, for a secret or a value that came
 * from a config provider, a description that does not contain it.
 */
type Shown = (asTyped: string) => string

function parseValue (key: ConfigKey, raw: string, show: Shown): { value?: ConfigValue, error?: string, fix?: string } {
  const text = raw.trim()
  switch (key.type) {
    case 'int':
    case 'long': {
      if (!/^[+-]?\d+$/.test(text)) return { error: `${show(`"${raw}"`)} is not a whole number`, fix: 'write digits only, for example 1000' }
      const n = Number(text)
      if (key.type === 'int' && (n > 2147483647 || n < -2147483648)) return { error: `${show(text)} is out of range for an int` }
      // Beyond 2^53 a long loses digits in a JavaScript number; no Kafka setting needs that much.
      if (!Number.isSafeInteger(n)) return { error: `${show(text)} is out of range`, fix: `use at most ${Number.MAX_SAFE_INTEGER}` }
      return { value: n }
    }
    case 'double': {
      const n = Number(text)
      if (text === '' || Number.isNaN(n)) return { error: `${show(`"${raw}"`)} is not a number` }
      if (!Number.isFinite(n)) return { error: `${show(`"${raw}"`)} is out of range` }
      return { value: n }
    }
    case 'boolean': {
      const lower = text.toLowerCase()
      if (lower === 'true') return { value: true }
      if (lower === 'false') return { value: false }
      return { error: `${show(`"${raw}"`)} is not a boolean`, fix: 'use true or false' }
    }
    case 'list':
      return { value: text === '' ? [] : text.split(',').map(s => s.trim()).filter(s => s !== '') }
    default:
      return { value: text }
  }
}

function checkValue (key: ConfigKey, value: ConfigValue, show: Shown, hidden: boolean): { error: string, fix?: string } | undefined {
  if (key.choices !== undefined && typeof value === 'string') {
    if (!key.choices.some(c => c.toLowerCase() === value.toLowerCase())) {
      const close = hidden ? undefined : closest(value, [...key.choices])
      return { error: `${show(`"${value}"`)} is not allowed`, fix: `use one of: ${key.choices.join(', ')}${close !== undefined ? `; did you mean ${close}?` : ''}` }
    }
  }
  if (typeof value === 'number') {
    if (key.min !== undefined && value < key.min) return { error: `${show(String(value))} is below the minimum of ${key.min}` }
    if (key.max !== undefined && value > key.max) return { error: `${show(String(value))} is above the maximum of ${key.max}` }
  }
  const custom = key.validate?.(value)
  if (custom === undefined) return undefined
  // A validator may quote the value (or parts of a list); a hidden value must not appear.
  return { error: hidden ? withoutValue(custom, value) : custom }
}

function withoutValue (message: string, value: ConfigValue): string {
  // Very short parts would blank out letters of the message; they say nothing of a secret either.
  const parts = (Array.isArray(value) ? value : [String(value)]).filter(p => p.length >= 4).sort((a, b) => b.length - a.length)
  let out = message
  for (const part of parts) out = out.split(part).join(HIDDEN)
  return out
}

/** `config.providers.<name>.class` → /^config\.providers\.([^.]+)\.class$/; a last placeholder may hold dots. */
function templatePattern (name: string): RegExp {
  const parts = name.split(/<[^>]+>/)
  const escaped = parts.map(p => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  return new RegExp(`^${escaped.map((p, i) => i === 0 ? p : (i === parts.length - 1 && p === '' ? '.+' : '[^.]+') + p).join('')}$`)
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
  #templates: Array<{ key: ConfigKey, pattern: RegExp }> = []

  constructor (keys: ConfigKey[]) {
    this.keys = keys
    for (const key of keys) {
      if (this.#byName.has(key.name) || this.#templates.some(t => t.key.name === key.name)) throw new Error(`config key ${key.name} declared twice`)
      if (key.name.includes('<')) this.#templates.push({ key, pattern: templatePattern(key.name) })
      else this.#byName.set(key.name, key)
      if (key.deprecatedAlias !== undefined) this.#aliases.set(key.deprecatedAlias, key)
    }
  }

  /** The declaration of a name, including names of a family such as config.providers.env.class. */
  get (name: string): ConfigKey | undefined {
    return this.#byName.get(name) ?? this.#templates.find(t => t.pattern.test(name))?.key
  }

  /** Whether the value of `name` must never be shown. */
  isSecret (name: string): boolean {
    return isSecret(this.get(name) ?? this.#aliases.get(name), name)
  }

  /**
   * Parses raw key/value pairs from one source (a file, the command line). Problems name the
   * source and key; nothing is thrown, so that every problem can be reported at once.
   * `references`: resolve ${provider:path:key} in values first, as Kafka clients do for their
   * properties (on for client properties, off for flags, whose regexes may hold `${`).
   */
  parse (input: Iterable<[string, string]>, source: string, options: { required?: string[], warnUnknown?: boolean, references?: boolean } = {}): ParsedConfig {
    const values = new Map<string, ConfigValue>()
    const given = new Set<string>()
    const problems: ConfigProblem[] = []
    const warnings: string[] = []
    const unknown = new Map<string, string>()

    let raw: Iterable<[string, string]> = input
    let referenced = new Map<string, string>()
    if (options.references === true) {
      const resolved = resolveConfigReferences([...input], source, name => this.isSecret(name))
      raw = resolved.pairs
      referenced = resolved.referenced
      problems.push(...resolved.problems)
      warnings.push(...resolved.warnings)
    }

    for (const [name, text] of raw) {
      let key = this.get(name)
      if (key === undefined && this.#aliases.has(name)) {
        key = this.#aliases.get(name)!
        warnings.push(`${source}: ${name} is deprecated; use ${key.name}`)
      }
      if (key === undefined) {
        if (looksSecret(name)) rememberSecret(text)
        unknown.set(name, text)
        if (options.warnUnknown ?? true) {
          const hint = closest(name, [...this.#byName.keys()])
          warnings.push(`${source}: unknown key ${name}${hint !== undefined ? ` (did you mean ${hint}?)` : ''}; it is ignored`)
        }
        continue
      }
      // A family member (config.providers.env.class) keeps its own name.
      const stored = key.name.includes('<') ? name : key.name
      const secret = isSecret(key)
      if (secret) rememberSecret(text)
      const reference = referenced.get(name)
      const hidden = secret || reference !== undefined
      const show: Shown = asTyped => secret ? 'the value' : reference !== undefined ? `the value of ${abbreviate(reference)}` : abbreviate(asTyped)
      const parsed = parseValue(key, text, show)
      if (parsed.error !== undefined) {
        problems.push({ source, key: stored, message: parsed.error, fix: parsed.fix })
        continue
      }
      const invalid = checkValue(key, parsed.value!, show, hidden)
      if (invalid !== undefined) {
        problems.push({ source, key: stored, message: invalid.error, fix: invalid.fix })
        continue
      }
      if (key.ignored !== undefined) warnings.push(`${source}: ${stored} is ignored: ${key.ignored}`)
      values.set(stored, parsed.value!)
      given.add(stored)
    }
    for (const name of options.required ?? []) {
      if (!given.has(name)) problems.push({ source, key: name, message: 'is required', fix: this.#byName.get(name)?.doc })
    }
    for (const key of this.keys) {
      if (!values.has(key.name) && key.default !== undefined && !key.name.includes('<')) values.set(key.name, key.default)
    }
    return { values, given, problems, warnings, unknown }
  }

  /** The given keys as `key=value` text for people, each secret as [hidden]. */
  describe (parsed: ParsedConfig): Array<[string, string]> {
    return [...parsed.given].sort().map(name => {
      const value = parsed.values.get(name)!
      return [name, this.isSecret(name) ? HIDDEN : Array.isArray(value) ? value.join(',') : String(value)]
    })
  }
}

export function formatDefault (key: ConfigKey): string {
  if (key.default === undefined) return ''
  if (Array.isArray(key.default)) return key.default.join(',')
  return String(key.default)
}

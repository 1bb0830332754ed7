// Command-line flags in Kafka tools' style: `--name value`, `--name=value`, bare `--flag` for
// booleans (MirrorMaker 1 also took `--abort.on.send.failure true`). Unknown flags are problems,
// with a "did you mean", and every one is reported at once.
import { closest, type ConfigDefinition } from '../config/definition.ts'
import type { ConfigProblem } from '../errors.ts'

export interface ParsedFlags {
  /** In order of appearance; repeatable flags appear several times. */
  pairs: Array<[string, string]>
  positionals: string[]
  problems: ConfigProblem[]
}

export function parseFlags (argv: string[], definition: ConfigDefinition, options: { aliases?: Record<string, string> } = {}): ParsedFlags {
  const pairs: Array<[string, string]> = []
  const positionals: string[] = []
  const problems: ConfigProblem[] = []
  const names = definition.keys.map(k => k.name)
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i]
    if (!token.startsWith('-') || token === '-') {
      positionals.push(token)
      continue
    }
    const body = token.replace(/^--?/, '')
    const eq = body.indexOf('=')
    let name = eq >= 0 ? body.slice(0, eq) : body
    name = options.aliases?.[name] ?? name
    const key = definition.get(name)
    if (key === undefined) {
      const hint = closest(name, names)
      problems.push({ source: 'command line', key: `--${name}`, message: 'is not a known flag', fix: hint !== undefined ? `did you mean --${hint}?` : 'see --help' })
      // Skip the unknown flag's value, if it has one, so it is not taken for a positional.
      if (eq < 0 && i + 1 < argv.length && !argv[i + 1].startsWith('--')) i++
      continue
    }
    if (eq >= 0) {
      pairs.push([name, body.slice(eq + 1)])
    } else if (key.type === 'boolean') {
      const next = argv[i + 1]
      if (next === 'true' || next === 'false') { pairs.push([name, next]); i++ } else pairs.push([name, 'true'])
    } else if (i + 1 < argv.length) {
      pairs.push([name, argv[++i]])
    } else {
      problems.push({ source: 'command line', key: `--${name}`, message: 'needs a value', fix: `--${name} <${key.type}>` })
    }
  }
  return { pairs, positionals, problems }
}

/** `--help` text generated from the same declarations that validate the flags. */
export function helpText (usage: string, definition: ConfigDefinition): string {
  const lines = [usage, '', 'Options:']
  for (const key of definition.keys) {
    const value = key.type === 'boolean' ? '' : ` <${key.choices !== undefined ? key.choices.join('|') : key.type}>`
    lines.push(`  --${key.name}${value}`)
    lines.push(`      ${key.doc}`)
  }
  return lines.join('\n') + '\n'
}

// Command-line flags in Kafka tools' style: `--name value`, `--name=value`, bare `--flag` for
// booleans (MirrorMaker 1 also took `--abort.on.send.failure true`). Unknown flags are problems,
// with a "did you mean", and every one is reported at once.
import { closest, type ConfigDefinition, type ConfigKey } from '../config/definition.ts'
import type { ConfigProblem } from '../errors.ts'
import { version } from '../version.ts'

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

/** Columns to wrap help to: the terminal's width, 80 when the output is not a terminal. */
export function terminalWidth (stream: NodeJS.WritableStream = process.stdout): number {
  const { isTTY, columns } = stream as { isTTY?: boolean, columns?: number }
  // Narrower than 40 columns, wrapped help is harder to read than lines the terminal breaks.
  return isTTY === true && columns !== undefined && columns > 0 ? Math.max(40, columns) : 80
}

/**
 * Breaks a line at spaces into lines no wider than `width` (a word wider than that stays whole).
 * Continued lines start with `continuation`; in a two-column line ("  name ...    what it does")
 * they start under the second column instead, when that is in the left half.
 */
export function wrapLine (line: string, width: number, continuation = /^ */.exec(line)![0]): string[] {
  if (line.length <= width) return [line]
  const column = /^(\s*\S.*?\s{2,})(?=\S)/.exec(line)?.[1]
  const head = column !== undefined && column.length <= width / 2 ? column : /^ */.exec(line)![0]
  const next = head === column ? ' '.repeat(column.length) : continuation
  const out: string[] = []
  let current = head
  for (const word of line.slice(head.length).split(/ +/)) {
    const start = current === head || current === next
    if (!start && current.length + 1 + word.length > width) {
      out.push(current)
      current = next + word
    } else {
      current += (start ? '' : ' ') + word
    }
  }
  out.push(current)
  return out
}

/**
 * Wraps a usage text. Prose (consecutive lines without indentation) is reflowed as one paragraph,
 * since its line breaks were made for some other width; an indented line is wrapped on its own,
 * keeping its indentation, and a command example is indented 4 more, so that it reads as one command.
 */
export function wrapText (text: string, width: number): string {
  const lines: string[] = []
  for (const line of text.split('\n')) {
    const previous = lines.at(-1)
    const prose = (l: string): boolean => l !== '' && !l.startsWith(' ')
    if (previous !== undefined && prose(previous) && prose(line) && !previous.startsWith('Usage:') && !line.startsWith('Usage:') && !previous.endsWith(':')) lines[lines.length - 1] = `${previous} ${line}`
    else lines.push(line)
  }
  return lines.flatMap(line => {
    const indent = /^ */.exec(line)![0]
    return wrapLine(line, width, line.startsWith('Usage:') || (indent !== '' && line.includes('kafka-mirror ')) ? `${indent}    ` : indent)
  }).join('\n')
}

/** How a flag is written in --help: a boolean takes true or false (bare, it means true). */
function flagSynopsis (key: ConfigKey): string {
  if (key.name === 'help') return '--help'
  if (key.type === 'boolean') return `--${key.name} true|false`
  return `--${key.name} <${key.choices !== undefined ? key.choices.join('|') : key.type}>`
}

/** `--help` text generated from the same declarations that validate the flags, wrapped to `width`. */
export function helpText (usage: string, definition: ConfigDefinition, width = terminalWidth()): string {
  const lines = [`kafka-mirror ${version}`, '', wrapText(usage, width), '', 'Options:']
  const option = (synopsis: string, doc: string): void => {
    lines.push(...wrapLine(`  ${synopsis}`, width, '      '), ...wrapLine(`      ${doc}`, width))
  }
  for (const key of definition.keys) option(flagSynopsis(key), key.doc)
  option('--version', 'Print the version and exit.')
  return lines.join('\n') + '\n'
}

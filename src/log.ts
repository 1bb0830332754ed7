// Logs go to stderr through pino: JSON lines with --log.format json, logfmt-style lines by default.
// Secrets never reach them: fields that look secret are [hidden], and each line is scrubbed of
// remembered secret values and JAAS passwords before it is written (see config/secrets.ts).
//
// Text: `2026-12-06T20:05:00.123Z INFO partitions assigned cluster=source topic=orders partitions=0,1`
// (time in UTC, marked Z; values with spaces, quotes or = quoted as JSON strings; each value once).
// JSON: {"level":"info","time":"2026-12-06T20:05:00.123Z","msg":"…",…}, stable keys.
import { pino, type Logger } from 'pino'
import { redactObject, redactSecrets } from './config/secrets.ts'

export type { Logger }

const levelNames: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' }

/** A logfmt value: bare when it can be, else a JSON string. */
function logfmtValue (value: unknown): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value) ?? String(value)
  return text === '' || /[\s"=\\]/.test(text) || /[^\x20-\x7e]/.test(text) ? JSON.stringify(text) : text
}

function readable (entry: Record<string, unknown>): string {
  const { level, time, msg, pid: _pid, hostname: _host, name, ...rest } = entry
  const when = typeof time === 'string' ? time : new Date(Number(time)).toISOString()
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${logfmtValue(v)}`).join(' ')
  const levelName = (typeof level === 'string' ? level : levelNames[Number(level)] ?? String(level)).toUpperCase()
  return `${when} ${levelName} ${name !== undefined ? `${String(name)}: ` : ''}${String(msg)}${fields !== '' ? ` ${fields}` : ''}\n`
}

/** The last warnings and errors logged, for /api/status; messages already scrubbed of secrets. */
export class RecentProblems {
  #entries: Array<{ at: string, level: 'warn' | 'error', message: string }> = []
  readonly limit: number

  constructor (limit = 50) {
    this.limit = limit
  }

  add (entry: Record<string, unknown>): void {
    const { level, time, msg, pid: _pid, hostname: _host, ...fields } = entry
    const details = Object.entries(fields).map(([k, v]) => `${k}=${logfmtValue(v)}`).join(' ')
    this.#entries.push({
      at: typeof time === 'string' ? time : new Date(Number(time)).toISOString(),
      level: level === 'warn' ? 'warn' : 'error',
      message: redactSecrets(`${String(msg)}${details !== '' ? ` ${details}` : ''}`)
    })
    if (this.#entries.length > this.limit) this.#entries.shift()
  }

  list (): Array<{ at: string, level: 'warn' | 'error', message: string }> {
    return [...this.#entries]
  }
}

export function createLogger (options: { level?: string, format?: 'text' | 'json', stream?: NodeJS.WritableStream, problems?: RecentProblems } = {}): Logger {
  const out = options.stream ?? process.stderr
  const problems = options.problems
  const json = options.format === 'json'
  const destination = {
    write: (line: string) => {
      const clean = redactSecrets(line)
      // Only warn and above are parsed for the list of problems; the rest passes as it is.
      const problem = problems !== undefined && /^\{"level":"(warn|error|fatal)"/.test(clean)
      if (json && !problem) {
        out.write(clean)
        return
      }
      const entry = JSON.parse(clean) as Record<string, unknown>
      if (problem) problems.add(entry)
      out.write(json ? clean : redactSecrets(readable(entry)))
    }
  }
  return pino({
    level: options.level ?? 'info',
    base: undefined,
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: {
      level: label => ({ level: label }),
      log: fields => redactObject(fields) as Record<string, unknown>
    }
  }, destination as NodeJS.WritableStream)
}

/** A logger that drops everything, for library users who pass none. */
export const silentLogger: Logger = pino({ level: 'silent' })

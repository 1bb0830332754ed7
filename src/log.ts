// Logs go to stderr through pino: JSON lines with --log.format json, short readable lines by default.
// Secrets never reach them: fields that look secret are [hidden], and each line is scrubbed of
// remembered secret values and JAAS passwords before it is written (see config/secrets.ts).
import { pino, type Logger } from 'pino'
import { redactObject, redactSecrets } from './config/secrets.ts'

export type { Logger }

const levelNames: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }

function readable (line: string): string {
  const { level, time, msg, pid: _pid, hostname: _host, name, ...rest } = JSON.parse(line) as Record<string, unknown>
  const when = new Date(Number(time)).toISOString().replace('T', ' ').slice(0, 23)
  const fields = Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`).join(' ')
  return `[${when}] ${levelNames[Number(level)] ?? level} ${name !== undefined ? `${String(name)}: ` : ''}${String(msg)}${fields !== '' ? ` ${fields}` : ''}\n`
}

export function createLogger (options: { level?: string, format?: 'text' | 'json', stream?: NodeJS.WritableStream } = {}): Logger {
  const out = options.stream ?? process.stderr
  const destination = options.format === 'json'
    ? { write: (line: string) => { out.write(redactSecrets(line)) } }
    : { write: (line: string) => { out.write(redactSecrets(readable(line))) } }
  return pino({
    level: options.level ?? 'info',
    base: undefined,
    formatters: { log: fields => redactObject(fields) as Record<string, unknown> }
  }, destination as NodeJS.WritableStream)
}

/** A logger that drops everything, for library users who pass none. */
export const silentLogger: Logger = pino({ level: 'silent' })

// Errors with stable codes: callers branch on `code`, never on the message. `exitCode` is what the
// CLI exits with; `retriable` says whether trying the same thing again can succeed.
import { redactSecrets } from './config/secrets.ts'

export const ErrorCodes = {
  CONFIG: 'KMIRROR_CONFIG',
  USAGE: 'KMIRROR_USAGE',
  CONNECTION: 'KMIRROR_CONNECTION',
  SEND_FAILED: 'KMIRROR_SEND_FAILED',
  DATA_LOSS: 'KMIRROR_DATA_LOSS',
  TOPIC: 'KMIRROR_TOPIC',
  ZOOKEEPER: 'KMIRROR_ZOOKEEPER',
  INTERNAL: 'KMIRROR_INTERNAL',
  STOP_DEADLINE: 'KMIRROR_STOP_DEADLINE'
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

export const ExitCodes = {
  OK: 0,
  FAILURE: 1,
  BAD_INPUT: 2,
  DATA_LOSS: 3,
  /** The stop deadline passed before the mirror delivered, committed and closed everything. */
  STOP_DEADLINE: 4,
  INTERRUPTED: 130
} as const

/** What each exit code tells an operator; docs/operations.md's table is generated from it. */
export const exitCodeDescriptions: Record<keyof typeof ExitCodes, string> = {
  OK: 'Done: the mirror stopped cleanly on Ctrl+C or SIGTERM (delivered what it fetched, committed what the target acknowledged), `--once` copied everything, `--validate` found the configuration valid, or a tool command succeeded.',
  FAILURE: 'A fatal error: a cluster that cannot be reached at start, authentication or authorization refused, a send the target refused with `--abort.on.send.failure true`, or anything unexpected. The message says which; nothing past the failure was committed. Also: the Node.js version is too old.',
  BAD_INPUT: 'Bad input: unknown flags or commands, bad values in the flags or the properties files (every problem listed at once, each naming the file or flag, the key and the fix), or `--validate` on an invalid configuration.',
  DATA_LOSS: 'Records the mirror had not copied yet are gone from the source (retention, or the topic deleted and created again) and `--on.data.loss` is `stop`: the message names the topic, partition and offsets; nothing past the gap was committed.',
  STOP_DEADLINE: 'The stop did not finish within its 25 s deadline (the clusters did not answer): records the target did not acknowledge were not committed and are copied again at the next start.',
  INTERRUPTED: 'A second Ctrl+C or SIGTERM while stopping: the process exits at once; what was not committed is copied again at the next start.'
}

export class KafkaMirrorError extends Error {
  code: ErrorCode
  retriable: boolean
  exitCode: number

  constructor (code: ErrorCode, message: string, options: { cause?: unknown, retriable?: boolean, exitCode?: number } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined)
    this.name = 'KafkaMirrorError'
    this.code = code
    this.retriable = options.retriable ?? false
    this.exitCode = options.exitCode ?? ExitCodes.FAILURE
  }
}

/** One thing wrong with the input: where it is (a file, a flag), the key, and how to fix it. */
export interface ConfigProblem {
  /** "consumer.properties", "--num.streams", "command line". */
  source: string
  key?: string
  message: string
  /** A hint such as "did you mean group.id?" or "use one of: none, gzip". */
  fix?: string
}

export function formatProblem (p: ConfigProblem): string {
  const where = p.key !== undefined ? `${p.source}: ${p.key}` : p.source
  return `${where}: ${p.message}${p.fix !== undefined ? ` (${p.fix})` : ''}`
}

/** Every problem found in the input at once, so the user fixes them in one go. */
export class ConfigError extends KafkaMirrorError {
  problems: ConfigProblem[]

  constructor (problems: ConfigProblem[]) {
    const lines = problems.map(p => `  - ${formatProblem(p)}`)
    super(ErrorCodes.CONFIG, `${problems.length === 1 ? 'There is a problem' : `There are ${problems.length} problems`} with the configuration:\n${lines.join('\n')}`, { exitCode: ExitCodes.BAD_INPUT })
    this.name = 'ConfigError'
    this.problems = problems
  }
}

export class UsageError extends KafkaMirrorError {
  constructor (message: string) {
    super(ErrorCodes.USAGE, message, { exitCode: ExitCodes.BAD_INPUT })
    this.name = 'UsageError'
  }
}

/** The target refused records: nothing after them is committed on the source. */
export class SendFailedError extends KafkaMirrorError {
  topic: string
  partition: number
  offset: bigint

  /** The target partition the batch went to, when known. */
  targetPartition: number | undefined

  constructor (topic: string, partition: number, offset: bigint, cause: unknown, targetPartition?: number) {
    super(ErrorCodes.SEND_FAILED, `The target did not accept records of ${topic}-${partition} from offset ${offset}${targetPartition !== undefined ? ` (sent to target partition ${targetPartition})` : ''}: ${describeCause(cause)}. ` +
      `No source offset at or after it was committed, so a restart copies it again.`, { cause })
    this.name = 'SendFailedError'
    this.topic = topic
    this.partition = partition
    this.offset = offset
    this.targetPartition = targetPartition
  }
}

/** Records the mirror had not copied are gone from the source (retention, deleted topic). */
export class DataLossError extends KafkaMirrorError {
  topic: string
  partition: number
  fromOffset: bigint
  toOffset: bigint

  constructor (topic: string, partition: number, fromOffset: bigint, toOffset: bigint, detail?: string) {
    super(ErrorCodes.DATA_LOSS, detail !== undefined ? `Records are gone from the source before they were copied: ${detail}.` : `Records ${fromOffset} to ${toOffset - 1n} of ${topic}-${partition} are gone from the source before they were copied.`, { exitCode: ExitCodes.DATA_LOSS })
    this.name = 'DataLossError'
    this.topic = topic
    this.partition = partition
    this.fromOffset = fromOffset
    this.toOffset = toOffset
  }
}

/** The reason of a failure in a line, for messages; a secret a client library quoted is [hidden]. */
export function describeCause (error: unknown): string {
  if (error instanceof AggregateError && error.errors.length > 0) return error.errors.map(describeCause).join('; ')
  if (error instanceof Error) {
    const nested = (error as { errors?: unknown[] }).errors
    if (Array.isArray(nested) && nested.length > 0 && error.message.startsWith('Multiple')) return nested.map(describeCause).join('; ')
    return redactSecrets(error.message)
  }
  return redactSecrets(String(error))
}

/** stop() ran out of time (clusters unreachable): what was not acknowledged is copied again at the next start. */
export class StopDeadlineError extends KafkaMirrorError {
  unfinished: string[]

  constructor (deadlineMs: number, unfinished: string[]) {
    super(ErrorCodes.STOP_DEADLINE, `The mirror stopped at its ${deadlineMs / 1000} s deadline before it finished: ${unfinished.join(', ')}. ` +
      'No source offset was committed for records the target did not acknowledge, so the next start copies them again.', { exitCode: ExitCodes.STOP_DEADLINE })
    this.name = 'StopDeadlineError'
    this.unfinished = unfinished
  }
}

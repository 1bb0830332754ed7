// `kafka-mirror consume`: kafka-console-consumer.sh. Prints a topic's records to stdout, one per
// line, in the format of Kafka's DefaultMessageFormatter, until --max-messages, --timeout-ms or
// Ctrl+C; then prints "Processed a total of N messages" to stderr, as Kafka's tool does.
import { randomInt } from 'node:crypto'
import { Consumer, type Message, type MessagesStream } from '@platformatic/kafka'
import { consumerConfig } from '../config/client-config.ts'
import { ConfigDefinition, type ConfigValue } from '../config/definition.ts'
import { ErrorCodes, ExitCodes, KafkaMirrorError } from '../errors.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import type { CliIO, Command } from './io.ts'
import { briefCause, clusterFlagKeys, failOnProblems, firstRequestError, helpKey, locateBrokers, parseProperties, parseToolFlags, planConnection, readClientProperties, requireFlag, withTimeout } from './tool-connection.ts'

const usage = `Usage: kafka-mirror consume --bootstrap-server <host:port> --topic <topic> [options]

Prints the topic's records to stdout, as Kafka's kafka-console-consumer.sh:
  kafka-mirror consume --bootstrap-server localhost:9092 --topic testtopic --from-beginning --property print.key=true
Without --from-beginning (or committed offsets of --group) it starts at the end and prints new records.
Stops after --max-messages records, after --timeout-ms without a record, or on Ctrl+C.`

export const consumeFlags = new ConfigDefinition([
  ...clusterFlagKeys,
  { name: 'topic', type: 'string', doc: 'REQUIRED: the topic to consume from.', importance: 'high' },
  { name: 'group', type: 'string', doc: 'The consumer group: start from its committed offsets and commit what was printed. Default: a new throwaway group (console-consumer-<random>) that commits nothing.' },
  { name: 'from-beginning', type: 'boolean', doc: 'Start with the earliest record instead of the latest (when the group has no committed offset).' },
  { name: 'max-messages', type: 'int', min: 1, doc: 'Exit after printing this many records. Default: no limit.' },
  { name: 'timeout-ms', type: 'int', min: 1, doc: 'Exit when no record arrived for this long. Default: wait forever.' },
  { name: 'partition', type: 'int', min: 0, doc: 'Print only this partition. Without --offset it starts at the end (or the beginning with --from-beginning).' },
  { name: 'offset', type: 'string', doc: 'With --partition: the offset to start at, a non-negative number, or earliest, or latest. Default latest.', validate: v => /^(earliest|latest|\d+)$/.test(String(v)) ? undefined : `"${String(v)}" is not an offset: give a non-negative number, earliest or latest` },
  { name: 'property', type: 'string', doc: 'A formatter property, as name=value; repeat it for several. print.key, print.timestamp, print.partition, print.offset, print.headers (all false), print.value (true); key.separator (a tab) between columns, line.separator (a newline) after each record, headers.separator (,), headers.key.separator (:), null.literal (null).' },
  { name: 'consumer.config', type: 'string', doc: 'Properties file of Kafka consumer settings (group.id, auto.offset.reset, isolation.level, security.protocol, sasl.*, ssl.*). Values may be ${env:VAR} or ${file:path:key} references once the file sets config.providers.' },
  { name: 'consumer-property', type: 'string', doc: 'A Kafka consumer setting as name=value, over --consumer.config; repeat it for several.' },
  { name: 'isolation-level', type: 'string', choices: ['read_uncommitted', 'read_committed'], doc: 'read_committed prints only committed transactional records. Default read_uncommitted.' },
  helpKey
])

export const formatterProperties = new ConfigDefinition([
  { name: 'print.timestamp', type: 'boolean', default: false, doc: 'Print each record\'s timestamp as CreateTime:<ms>.' },
  { name: 'print.key', type: 'boolean', default: false, doc: 'Print each record\'s key.' },
  { name: 'print.offset', type: 'boolean', default: false, doc: 'Print each record\'s offset as Offset:<n>.' },
  { name: 'print.partition', type: 'boolean', default: false, doc: 'Print each record\'s partition as Partition:<n>.' },
  { name: 'print.headers', type: 'boolean', default: false, doc: 'Print each record\'s headers as name:value,name:value (NO_HEADERS when none).' },
  { name: 'print.value', type: 'boolean', default: true, doc: 'Print each record\'s value.' },
  { name: 'key.separator', type: 'string', default: '\t', doc: 'Between the printed fields. Default a tab.' },
  { name: 'line.separator', type: 'string', default: '\n', doc: 'After each record. Default a newline.' },
  { name: 'headers.separator', type: 'string', default: ',', doc: 'Between headers. Default ",".' },
  { name: 'headers.key.separator', type: 'string', default: ':', doc: 'Between a header\'s name and value. Default ":".' },
  { name: 'null.literal', type: 'string', default: 'null', doc: 'Printed for a null key, value or header value. Default "null".' }
])

/** Kafka's DefaultMessageFormatter: the chosen fields, separated, bytes as they are. */
export function messageFormatter (properties: Map<string, ConfigValue>): (m: Message) => Buffer {
  const flag = (name: string): boolean => properties.get(name) === true
  const text = (name: string): Buffer => Buffer.from(String(properties.get(name)), 'utf8')
  const fields = { timestamp: flag('print.timestamp'), partition: flag('print.partition'), offset: flag('print.offset'), headers: flag('print.headers'), key: flag('print.key'), value: flag('print.value') }
  const separator = text('key.separator')
  const lineSeparator = text('line.separator')
  const headersSeparator = text('headers.separator')
  const headersKeySeparator = text('headers.key.separator')
  const nullLiteral = text('null.literal')
  const bytes = (b: Buffer | null | undefined): Buffer => b === null || b === undefined ? nullLiteral : b

  return m => {
    const columns: Buffer[] = []
    if (fields.timestamp) columns.push(Buffer.from(`CreateTime:${m.timestamp}`))
    if (fields.partition) columns.push(Buffer.from(`Partition:${m.partition}`))
    if (fields.offset) columns.push(Buffer.from(`Offset:${m.offset}`))
    if (fields.headers) {
      const entries = m.headerEntries ?? []
      columns.push(entries.length === 0
        ? Buffer.from('NO_HEADERS')
        : Buffer.concat(entries.flatMap(([k, v], i) => [...(i > 0 ? [headersSeparator] : []), bytes(k), headersKeySeparator, bytes(v)])))
    }
    if (fields.key) columns.push(bytes(m.key))
    if (fields.value) columns.push(bytes(m.value))
    const parts: Buffer[] = []
    columns.forEach((c, i) => { if (i > 0) parts.push(separator); parts.push(c) })
    // Kafka ends the record with line.separator only after the value; without it, after the last field.
    if (columns.length > 0) parts.push(lineSeparator)
    return Buffer.concat(parts)
  }
}

const resetModes: Record<string, 'earliest' | 'latest' | 'fail'> = { earliest: 'earliest', smallest: 'earliest', latest: 'latest', largest: 'latest', none: 'fail' }

interface Position { topic: string, partition: number, offset: bigint, leaderEpoch: number }

export const consumeCommand: Command = async (argv, io) => {
  const flags = parseToolFlags(argv, consumeFlags, usage, io)
  if (flags === undefined) return ExitCodes.OK
  const problems = flags.problems
  requireFlag(flags, 'topic', 'to know what to print')
  const has = (name: string): boolean => flags.given.has(name) && flags.values.get(name) !== false
  // For combinations, a flag counts even when its value was wrong (and reported).
  const mentioned = (name: string): boolean => has(name) || flags.pairs.some(([k]) => k === name)
  if (mentioned('offset') && !mentioned('partition')) problems.push({ source: 'command line', key: '--offset', message: 'needs --partition', fix: 'add --partition <n>, or use --from-beginning for every partition' })
  if (mentioned('offset') && has('from-beginning')) problems.push({ source: 'command line', key: '--offset', message: 'cannot be used with --from-beginning', fix: 'use --offset earliest' })
  if (mentioned('group') && mentioned('partition')) problems.push({ source: 'command line', key: '--partition', message: 'cannot be used with --group', fix: 'a group shares out every partition; drop one of them' })

  const formatter = parseProperties(flags, 'property', formatterProperties)

  const file = flags.values.get('consumer.config') as string | undefined
  // The console consumer commits as Kafka's does (auto-commit in a named group), unlike the
  // mirror, whose consumer declaration forbids enable.auto.commit=true: so read these two here.
  const { properties, raw } = readClientProperties(flags, consumerConfig, { fileFlag: 'consumer.config', propertyFlag: 'consumer-property', handled: ['enable.auto.commit', 'auto.commit.interval.ms'] })
  const autoCommit = raw.get('enable.auto.commit')?.trim().toLowerCase()
  if (autoCommit !== undefined && autoCommit !== 'true' && autoCommit !== 'false') problems.push({ source: file ?? '--consumer-property', key: 'enable.auto.commit', message: `"${autoCommit}" is not a boolean`, fix: 'use true or false' })
  const commitInterval = raw.get('auto.commit.interval.ms')?.trim() ?? '5000'
  if (!/^\d+$/.test(commitInterval)) problems.push({ source: file ?? '--consumer-property', key: 'auto.commit.interval.ms', message: `"${commitInterval}" is not a whole number` })

  const flagGroup = flags.values.get('group') as string | undefined
  const configGroup = properties.given.has('group.id') ? String(properties.values.get('group.id')) : undefined
  if (flagGroup !== undefined && configGroup !== undefined && flagGroup !== configGroup) {
    problems.push({ source: 'command line', key: '--group', message: `"${flagGroup}" differs from group.id=${configGroup} in the consumer properties`, fix: 'give the group in one place only' })
  }
  const reset = properties.given.has('auto.offset.reset') ? String(properties.values.get('auto.offset.reset')).toLowerCase() : undefined
  if (has('from-beginning') && (reset === 'latest' || reset === 'largest')) {
    problems.push({ source: 'command line', key: '--from-beginning', message: `contradicts auto.offset.reset=${reset} in the consumer properties`, fix: 'drop one of them' })
  }
  if (flags.given.has('isolation-level')) properties.values.set('isolation.level', flags.values.get('isolation-level')!)
  const plan = planConnection(flags, properties, 'cluster', file ?? 'command line', 'console-consumer')
  failOnProblems(flags, io)

  const topic = flags.values.get('topic') as string
  const group = flagGroup ?? configGroup
  const commits = group !== undefined && autoCommit !== 'false'
  const partition = flags.values.get('partition') as number | undefined
  const offset = flags.values.get('offset') as string | undefined
  const maxMessages = flags.values.get('max-messages') as number | undefined
  const timeoutMs = flags.values.get('timeout-ms') as number | undefined
  // Kafka's tool starts at the end unless told otherwise: it shows what arrives from now on.
  const start = has('from-beginning') ? 'earliest' : resetModes[reset ?? 'latest']
  const format = messageFormatter(formatter)
  const v = properties.values

  const connection = await locateBrokers(plan!, io)
  const consumer = new Consumer({
    ...baseClientOptions(connection),
    groupId: group ?? `console-consumer-${randomInt(100000)}`,
    autocommit: false,
    sessionTimeout: Number(v.get('session.timeout.ms')),
    heartbeatInterval: Number(v.get('heartbeat.interval.ms')),
    minBytes: Number(v.get('fetch.min.bytes')),
    maxBytes: Number(v.get('fetch.max.bytes')),
    maxBytesPerPartition: Number(v.get('max.partition.fetch.bytes')),
    maxWaitTime: Number(v.get('fetch.max.wait.ms')),
    isolationLevel: v.get('isolation.level') === 'read_committed' ? 1 : 0
  })

  let processed = 0
  let stream: MessagesStream<Buffer, Buffer, Buffer, Buffer> | undefined
  const positions = new Map<number, Position>()
  const commit = async (): Promise<void> => {
    if (!commits || positions.size === 0) return
    const offsets = [...positions.values()]
    await consumer.commit({ offsets })
    for (const o of offsets) if (positions.get(o.partition) === o) positions.delete(o.partition)
  }
  try {
    let partitions: number
    try {
      const metadata = await consumer.metadata({ topics: [topic] })
      partitions = metadata.topics.get(topic)?.partitionsCount ?? 0
    } catch (error) {
      throw firstRequestError(error, topic, plan!)
    }
    if (partition !== undefined && partition >= partitions) {
      throw new KafkaMirrorError(ErrorCodes.TOPIC, `Topic ${topic} has no partition ${partition}: it has ${partitions} (0 to ${partitions - 1})`, { exitCode: ExitCodes.BAD_INPUT })
    }

    const subscribing = consumer.consume({
      topics: [topic],
      autocommit: false,
      ...(group !== undefined
        ? { mode: 'committed' as const, fallbackMode: start }
        : partition !== undefined && offset !== undefined && /^\d+$/.test(offset)
          ? { mode: 'manual' as const, offsets: [{ topic, partition, offset: BigInt(offset) }], fallbackMode: 'latest' as const }
          : { mode: (offset ?? start) === 'earliest' ? 'earliest' as const : 'latest' as const })
    })
    // Joining the group can take a while; Ctrl+C must not wait for it.
    stream = await untilAborted(subscribing, io)
    if (stream === undefined) {
      subscribing.then(async s => await s.close(), () => {}).catch(() => {})
      return ExitCodes.OK
    }
    const opened = stream
    await new Promise<void>((resolve, reject) => {
      let done = false
      let idle: NodeJS.Timeout | undefined
      const everyCommit = commits ? setInterval(() => { commit().catch(error => io.stderr.write(`Warning: committing offsets of group ${group} failed: ${briefCause(error)}\n`)) }, Math.max(100, Number(commitInterval))) : undefined
      const finish = (error?: unknown): void => {
        if (done) return
        done = true
        clearTimeout(idle)
        clearInterval(everyCommit)
        io.signal.removeEventListener('abort', onAbort)
        io.stdout.removeListener('error', onOutputClosed)
        opened.pause()
        if (error !== undefined) reject(error)
        else resolve()
      }
      const onAbort = (): void => finish()
      // `consume ... | head -5`: once the reader is gone there is nothing left to print to.
      const onOutputClosed = (): void => finish()
      const armIdle = (): void => {
        if (timeoutMs === undefined) return
        clearTimeout(idle)
        idle = setTimeout(() => finish(), timeoutMs)
      }
      opened.on('data', (m: Message) => {
        if (done || (partition !== undefined && m.partition !== partition)) return
        processed++
        positions.set(m.partition, { topic: m.topic, partition: m.partition, offset: m.offset + 1n, leaderEpoch: m.leaderEpoch })
        if (!io.stdout.write(format(m))) {
          opened.pause()
          io.stdout.once('drain', () => { if (!done) opened.resume() })
        }
        if (maxMessages !== undefined && processed >= maxMessages) finish()
        else armIdle()
      })
      opened.once('error', (error: Error) => finish(new KafkaMirrorError(ErrorCodes.CONNECTION, `Consuming topic ${topic} failed: ${briefCause(error)}`, { cause: error })))
      opened.once('close', () => finish())
      io.signal.addEventListener('abort', onAbort, { once: true })
      io.stdout.on('error', onOutputClosed)
      if (io.signal.aborted) finish()
      armIdle()
    })
    return ExitCodes.OK
  } finally {
    // The stream first: the consumer cannot leave its group while a stream is open.
    if (stream !== undefined) await withTimeout(stream.close().catch(() => {}), 10_000)
    await withTimeout(commit().catch(error => io.stderr.write(`Warning: committing offsets of group ${group} failed: ${briefCause(error)}\n`)), 10_000)
    await withTimeout(consumer.close(true).catch(() => {}), 10_000)
    io.stderr.write(`Processed a total of ${processed} messages\n`)
  }
}

/** The promise's value, or undefined as soon as the command is interrupted. */
async function untilAborted<T> (promise: Promise<T>, io: CliIO): Promise<T | undefined> {
  if (io.signal.aborted) return undefined
  let onAbort: (() => void) | undefined
  try {
    return await Promise.race([promise, new Promise<undefined>(resolve => {
      onAbort = () => resolve(undefined)
      io.signal.addEventListener('abort', onAbort, { once: true })
    })])
  } finally {
    if (onAbort !== undefined) io.signal.removeEventListener('abort', onAbort)
  }
}

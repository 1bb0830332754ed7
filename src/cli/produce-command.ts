// `kafka-mirror produce`: kafka-console-producer.sh. Each line of stdin becomes one record; with
// --property parse.key=true the text before key.separator is the key. EOF or Ctrl+C ends it after
// every line read so far is acknowledged.
import { createInterface, type Interface } from 'node:readline'
import { Producer, type MessageToProduce } from '@platformatic/kafka'
import { producerConfig } from '../config/client-config.ts'
import { ConfigDefinition, type ConfigValue } from '../config/definition.ts'
import { ErrorCodes, ExitCodes, KafkaMirrorError } from '../errors.ts'
import { baseClientOptions } from '../kafka/client-options.ts'
import { murmur2 } from '../mirror/partitioner.ts'
import type { Command } from './io.ts'
import { briefCause, clusterFlagKeys, failOnProblems, firstRequestError, helpKey, locateBrokers, parseProperties, parseToolFlags, planConnection, readClientProperties, requireFlag, withTimeout } from './tool-connection.ts'

const usage = `Usage: kafka-mirror produce --bootstrap-server <host:port> --topic <topic> [options]

Reads lines from stdin and writes each as a record to the topic, as Kafka's kafka-console-producer.sh:
  echo 'k1:hello' | kafka-mirror produce --bootstrap-server localhost:9092 --topic testtopic --property parse.key=true --property key.separator=:
End with Ctrl+D (end of input) or Ctrl+C; every line read is delivered before it exits.`

const codecs = ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as const

export const produceFlags = new ConfigDefinition([
  ...clusterFlagKeys,
  { name: 'topic', type: 'string', doc: 'REQUIRED: the topic to produce messages to.', importance: 'high' },
  { name: 'property', type: 'string', doc: 'A line reader property, as name=value; repeat it for several. parse.key (false): split each line into key and value at key.separator (default a tab). parse.headers (false): lines start with headers ("h1:v1,h2:v2") and headers.delimiter (default a tab); headers.separator (,) and headers.key.separator (:) split them. null.marker: a key, value or header value equal to it is sent as null. ignore.error (false): send lines without a separator whole, as the value, instead of stopping.' },
  { name: 'producer.config', type: 'string', doc: 'Properties file of Kafka producer settings (acks, compression.type, security.protocol, sasl.*, ssl.*). Values may be ${env:VAR} or ${file:path:key} references once the file sets config.providers.' },
  { name: 'producer-property', type: 'string', doc: 'A Kafka producer setting as name=value, over --producer.config; repeat it for several.' },
  { name: 'compression-codec', type: 'string', choices: codecs, doc: 'Compression: none, gzip, snappy, lz4 or zstd. Given without a value: gzip.' },
  { name: 'request-required-acks', type: 'string', choices: ['all', '-1', '0', '1'], doc: 'Acknowledgements each request waits for: -1 or all (every in-sync replica), 1 (the leader), 0 (none). Default -1.' },
  { name: 'request-timeout-ms', type: 'int', min: 1, doc: 'How long to wait for a broker to acknowledge a request. Default 1500 in Kafka\'s tool; here request.timeout.ms (30000).' },
  { name: 'message-send-max-retries', type: 'int', min: 0, doc: 'How often a failed send is retried before the tool gives up. Default 3.' },
  { name: 'retry-backoff-ms', type: 'int', min: 0, doc: 'Wait before each retry. Default 100.' },
  { name: 'sync', type: 'boolean', doc: 'Send each line on its own and wait for its acknowledgement before reading the next.' },
  helpKey
])

export const lineReaderProperties = new ConfigDefinition([
  { name: 'parse.key', type: 'boolean', default: false, doc: 'Split each line into key and value at key.separator.' },
  { name: 'key.separator', type: 'string', default: '\t', doc: 'Separates the key from the value. Default a tab.' },
  { name: 'parse.headers', type: 'boolean', default: false, doc: 'Lines start with headers, then headers.delimiter.' },
  { name: 'headers.delimiter', type: 'string', default: '\t', doc: 'Separates the headers from the rest of the line. Default a tab.' },
  { name: 'headers.separator', type: 'string', default: ',', doc: 'Separates headers from each other. Default ",".' },
  { name: 'headers.key.separator', type: 'string', default: ':', doc: 'Separates a header\'s name from its value. Default ":".' },
  { name: 'null.marker', type: 'string', doc: 'A key, value or header value equal to it is sent as null. Default: none.' },
  { name: 'ignore.error', type: 'boolean', default: false, doc: 'Send lines that lack a separator whole, as the value, instead of stopping.' }
])

/** A line the reader cannot split: bad input, reported with its number. */
class LineError extends KafkaMirrorError {
  constructor (message: string) {
    super(ErrorCodes.USAGE, message, { exitCode: ExitCodes.BAD_INPUT })
  }
}

/** Kafka's LineMessageReader: `[headers<delimiter>][key<separator>]value`. */
export function lineReader (properties: Map<string, ConfigValue>): (line: string, lineNumber: number) => Pick<MessageToProduce, 'key' | 'value' | 'headers'> {
  const parseKey = properties.get('parse.key') === true
  const parseHeaders = properties.get('parse.headers') === true
  const ignoreError = properties.get('ignore.error') === true
  const keySeparator = String(properties.get('key.separator'))
  const headersDelimiter = String(properties.get('headers.delimiter'))
  const headersSeparator = String(properties.get('headers.separator'))
  const headersKeySeparator = String(properties.get('headers.key.separator'))
  const nullMarker = properties.get('null.marker') as string | undefined
  // Null, not undefined: the client checks that a value is present, and writes null as length -1.
  const bytes = (text: string): Buffer => (text === nullMarker ? null : Buffer.from(text, 'utf8')) as Buffer

  return (line, lineNumber) => {
    let rest = line
    let headers: Map<Buffer, Buffer> | undefined
    if (parseHeaders) {
      const at = rest.indexOf(headersDelimiter)
      if (at < 0) {
        if (!ignoreError) throw new LineError(`No headers delimiter ${JSON.stringify(headersDelimiter)} found on line number ${lineNumber}: '${line}'`)
      } else {
        headers = new Map()
        const text = rest.slice(0, at)
        rest = rest.slice(at + headersDelimiter.length)
        for (const pair of text === '' ? [] : text.split(headersSeparator)) {
          const split = pair.indexOf(headersKeySeparator)
          if (split < 0 && !ignoreError) throw new LineError(`No header key separator ${JSON.stringify(headersKeySeparator)} found in pair '${pair}' on line number ${lineNumber}`)
          const name = split < 0 ? pair : pair.slice(0, split)
          if (name === nullMarker) throw new LineError(`Header keys should not be equal to the null marker '${nullMarker}' as they can't be null (line number ${lineNumber})`)
          // A header value may be null in Kafka (a pair without a separator, with ignore.error).
          headers.set(Buffer.from(name, 'utf8'), split < 0 ? null as unknown as Buffer : bytes(pair.slice(split + headersKeySeparator.length)))
        }
      }
    }
    let key: Buffer | undefined
    if (parseKey) {
      const at = rest.indexOf(keySeparator)
      if (at < 0) {
        if (!ignoreError) throw new LineError(`No key separator ${JSON.stringify(keySeparator)} found on line number ${lineNumber}: '${line}' (add --property ignore.error=true to send such lines without a key)`)
      } else {
        key = bytes(rest.slice(0, at))
        rest = rest.slice(at + keySeparator.length)
      }
    }
    return { key, value: bytes(rest), ...(headers !== undefined ? { headers } : {}) }
  }
}

/** Kafka's tool accepts a bare --compression-codec, meaning gzip. */
function bareCodecIsGzip (argv: string[]): string[] {
  const out = [...argv]
  for (let i = 0; i < out.length; i++) {
    if (out[i] === '--compression-codec' && (i + 1 >= out.length || out[i + 1].startsWith('--'))) out.splice(i + 1, 0, 'gzip')
  }
  return out
}

const acksValue = (text: string): number => text === 'all' || text === '-1' ? -1 : Number(text)

export const produceCommand: Command = async (argv, io) => {
  const flags = parseToolFlags(bareCodecIsGzip(argv), produceFlags, usage, io)
  if (flags === undefined) return ExitCodes.OK
  requireFlag(flags, 'topic', 'to know where the lines go')
  const reader = parseProperties(flags, 'property', lineReaderProperties)

  const file = flags.values.get('producer.config') as string | undefined
  const { properties } = readClientProperties(flags, producerConfig, { fileFlag: 'producer.config', propertyFlag: 'producer-property' })
  // Command-line flags win over the properties, as Kafka's tool merges them.
  const overrides: Array<[string, string]> = [
    ['request-timeout-ms', 'request.timeout.ms'], ['retry-backoff-ms', 'retry.backoff.ms']
  ]
  for (const [flag, key] of overrides) if (flags.given.has(flag)) properties.values.set(key, flags.values.get(flag)!)
  const plan = planConnection(flags, properties, 'cluster', file ?? 'command line', 'console-producer')
  failOnProblems(flags, io)

  const topic = flags.values.get('topic') as string
  const acks = acksValue(String(flags.values.get('request-required-acks') ?? properties.values.get('acks') ?? 'all'))
  const compression = String(flags.values.get('compression-codec') ?? properties.values.get('compression.type') ?? 'none').toLowerCase() as typeof codecs[number]
  const retries = Number(flags.values.get('message-send-max-retries') ?? (properties.given.has('retries') ? properties.values.get('retries') : 3))
  // Idempotence needs acks=all; Kafka turns it off by itself for other acks unless asked for.
  const idempotent = acks === -1 && properties.values.get('enable.idempotence') !== false
  const sync = flags.values.get('sync') === true
  const toRecord = lineReader(reader)

  const connection = await locateBrokers(plan!, io)
  let roundRobin = 0
  const producer = new Producer({
    ...baseClientOptions(connection),
    acks,
    idempotent,
    compression,
    retries: Math.min(retries, 1000),
    autocreateTopics: false,
    // Java's default partitioner, so keys land where Kafka's own producers put them.
    partitioner: (_message, key) => Buffer.isBuffer(key) ? murmur2(key) & 0x7fffffff : roundRobin++
  })

  let sent = 0
  let pending: MessageToProduce[] = []
  let inFlight: Promise<void> | undefined
  let failure: unknown
  const pump = (): void => {
    if (inFlight !== undefined || pending.length === 0 || failure !== undefined) return
    const batch = pending.slice(0, 500)
    pending = pending.slice(batch.length)
    inFlight = producer.send({ messages: batch }).then(() => {
      sent += batch.length
      inFlight = undefined
      pump()
    }, error => {
      failure = error
      inFlight = undefined
    })
  }
  const drain = async (): Promise<void> => {
    while (failure === undefined && (inFlight !== undefined || pending.length > 0)) {
      pump()
      await inFlight
    }
  }

  let lines: Interface | undefined
  const stop = (): void => lines?.close()
  io.signal.addEventListener('abort', stop, { once: true })
  const prompt = (io.stdin as { isTTY?: boolean }).isTTY === true
  let badLine: unknown
  try {
    try {
      await producer.metadata({ topics: [topic] })
    } catch (error) {
      throw firstRequestError(error, topic, plan!)
    }
    // Only now: the reader starts reading stdin at once, and lines read before the loop are lost.
    lines = createInterface({ input: io.stdin, crlfDelay: Infinity, terminal: false })
    if (io.signal.aborted) stop()
    if (prompt) io.stdout.write('>')
    let lineNumber = 0
    for await (const line of lines) {
      lineNumber++
      try {
        pending.push({ topic, ...toRecord(line, lineNumber) })
      } catch (error) {
        badLine = error
        break
      }
      if (prompt) io.stdout.write('>')
      pump()
      if (sync || pending.length >= 10_000) await drain()
      if (failure !== undefined) break
    }
    await drain()
    if (failure !== undefined) {
      throw new KafkaMirrorError(ErrorCodes.SEND_FAILED, `Cannot send to topic ${topic}: ${briefCause(failure)}. ${sent} record${sent === 1 ? ' was' : 's were'} acknowledged before.`, { cause: failure })
    }
    if (badLine !== undefined) throw badLine
    return ExitCodes.OK
  } finally {
    io.signal.removeEventListener('abort', stop)
    lines?.close()
    await withTimeout(producer.close().catch(() => {}), 5000)
  }
}

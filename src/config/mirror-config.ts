// The mirror command's flags (MirrorMaker 1's names) and the loading of its two properties files
// into the options the Mirror engine takes. Every problem is collected and reported at once.
import { existsSync, readFileSync, statSync } from 'node:fs'
import { basename } from 'node:path'
import { ConfigError, type ConfigProblem } from '../errors.ts'
import { clusterConnection, type ClusterConnection } from '../kafka/client-options.ts'
import type { DecodedRecord } from '../kafka/raw/record-batch.ts'
import { consumerConfig, producerConfig } from './client-config.ts'
import { ConfigDefinition, type ConfigKey, type ConfigValue, type ParsedConfig } from './definition.ts'
import { abbreviate } from './messages.ts'
import { parseProperties } from './properties.ts'
import { compileTopicRegex, type TopicFilter } from './topic-filter.ts'

/** `[host:]port` of --http.listener; a bare port means 127.0.0.1. Undefined when the text is not one. */
export function listenAddress (text: string): { host: string, port: number } | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\s\[\]]+)):(\d{1,5})$/.exec(text.trim()) ?? /^()()(\d{1,5})$/.exec(text.trim())
  if (match === null || Number(match[3]) > 65535) return undefined
  return { host: match[1] !== '' && match[1] !== undefined ? match[1] : match[2] !== '' && match[2] !== undefined ? match[2] : '127.0.0.1', port: Number(match[3]) }
}

export const mirrorFlagKeys: ConfigKey[] = [
  { name: 'consumer.config', type: 'string', doc: 'Properties file of the consumer, which reads the source cluster (Kafka consumer property names; values may be ${env:VAR} or ${file:path:key} references once the file sets config.providers). Required.', importance: 'high' },
  { name: 'producer.config', type: 'string', doc: 'Properties file of the producer, which writes the target cluster (Kafka producer property names; references as in --consumer.config). Required.', importance: 'high' },
  { name: 'whitelist', type: 'string', doc: 'Topics to mirror: a Java regex matching whole topic names; commas also separate names. MirrorMaker 1\'s name for --include.', importance: 'high' },
  { name: 'include', type: 'string', doc: 'Topics to mirror, as --whitelist.', importance: 'high' },
  { name: 'exclude', type: 'string', doc: 'Topics never to mirror even if --include matches them, as a regex. Default: none.' },
  { name: 'num.streams', type: 'int', default: 1, min: 1, max: 256, doc: 'Consumers in this process, all in one group. Default 1.' },
  { name: 'offset.commit.interval.ms', type: 'int', default: 5000, min: 0, doc: 'How often source offsets are committed, each only after the target acknowledged every record before it. Default 5000 (MirrorMaker 1: 60000): what was copied but not committed is copied again after a crash or a rebalance, so a short interval means fewer duplicates.' },
  { name: 'exactly.once.support', type: 'string', default: 'disabled', choices: ['disabled', 'enabled'], doc: 'enabled: the records of each source partition and the source position they reach are written in one target transaction (one transactional id per source partition, prefix transactional.id), so a read_committed consumer of the target sees every record exactly once across crashes, rebalances and frozen members, which are fenced. Positions go to the target topic kafka-mirror-offsets.<group.id>.internal (Kafka Connect\'s offsets format, created compacted). Needs acks=all and enable.idempotence=true. Consumers reading read_uncommitted still see records of aborted transactions. disabled: no transactions; a new owner reconciles with the target instead. Default disabled.', importance: 'high' },
  { name: 'transaction.interval.ms', type: 'int', default: 1000, min: 10, doc: 'With exactly-once on: how long a source partition\'s transaction stays open after its first record, so what a read_committed consumer of the target waits for a record. Each commit costs a position record, an EndTxn and a marker in every target partition the transaction wrote: shorter means more of them (Kafka Streams commits every 100 ms; 1000 keeps that cost small with key partitioning, where one source partition writes many target partitions). Default 1000.' },
  { name: 'abort.on.send.failure', type: 'boolean', default: true, doc: 'On a send the target refuses after its retries: true stops the mirror with an error, committing nothing past the failure; false logs and counts the records of the refused batch and goes on (those records are lost). Default true.' },
  { name: 'on.data.loss', type: 'string', default: 'stop', choices: ['stop', 'continue'], doc: 'When records the mirror had not copied yet are gone from the source (deleted by retention, or the topic deleted and created again): stop ends the mirror with exit code 3, committing nothing past the gap, so the operator decides; continue reports the gap (topic, partition, offsets) in the log and the status, then copies what is there. Either way the gap is never skipped silently. Default stop.' },
  { name: 'topic.refresh.interval.ms', type: 'int', default: 30000, min: 100, doc: 'How often the source is checked for new topics that match. Default 30000.' },
  { name: 'once', type: 'boolean', default: false, doc: 'One-time migration: take the end offsets of every matched partition at start, copy up to them, print a summary and exit. Default false.' },
  { name: 'partitioning', type: 'string', default: 'key', choices: ['key', 'source'], doc: 'key: the target partition comes from the key with murmur2, as Kafka\'s default partitioner picks it (the keyless records of one source batch go to one partition, the next batch\'s to the next, as Kafka\'s producer spreads them); per-key order holds whatever the partition counts; a source batch whose keys all map to one partition is copied as it is. source: keep the partition number (the target needs at least as many partitions; partitions added to a source topic are added to the target topic too). Both copy record batches, never one object per record. Default key.' },
  { name: 'fast.path', type: 'string', default: 'auto', choices: ['auto', 'off'], doc: 'auto: a record batch that can go to the target as it is goes as it is, still compressed (only the producer id, epoch, sequence and CRC are rewritten); batches cut at an offset, compacted, with LogAppendTime, in another codec than compression.type, or split by key are written anew, records copied as bytes. Transaction markers and aborted transactions (read_committed) are left out either way. off: every batch is written anew. Default auto.' },
  { name: 'create.topics', type: 'boolean', default: true, doc: 'Create missing target topics with the source\'s partition count, a replication factor of min(source\'s, target brokers) and the source\'s main topic configs. Default true.' },
  { name: 'status.interval.ms', type: 'int', default: 5000, min: 0, doc: 'How often a status line (records/s, MB/s, lag) is logged; 0 turns it off. Default 5000.' },
  { name: 'http.listener', type: 'string', doc: 'Serve metrics and status over HTTP at [host:]port: /metrics (Prometheus), /healthz and /readyz (Kubernetes probes), /api/status (JSON) and a dashboard at /. A bare port binds 127.0.0.1 only; 0.0.0.0:9090 binds every interface (containers). Default: none, no listener. See docs/metrics.md.', validate: value => listenAddress(String(value)) === undefined ? 'is not [host:]port (for example 9090, or 0.0.0.0:9090 for every interface)' : undefined },
  { name: 'log.level', type: 'string', default: 'info', choices: ['trace', 'debug', 'info', 'warn', 'error', 'silent'], doc: 'Least level logged. Default info.' },
  { name: 'log.format', type: 'string', default: 'text', choices: ['text', 'json'], doc: 'text for people, json for log collectors. Default text.' },
  { name: 'message.handler', type: 'class', doc: 'MirrorMaker 1\'s Java message handler. Not supported: Java classes cannot run in kafka-mirror.', validate: () => 'is not supported: Java classes cannot run in kafka-mirror (remove it; topic renaming comes with replication policies)' },
  { name: 'message.handler.args', type: 'string', doc: 'Arguments of --message.handler. Not supported.', validate: () => 'is not supported (remove it)' },
  { name: 'rebalance.listener', type: 'class', doc: 'MirrorMaker 1\'s Java rebalance listener. Not supported.', validate: () => 'is not supported: Java classes cannot run in kafka-mirror (remove it)' },
  { name: 'rebalance.listener.args', type: 'string', doc: 'Arguments of --rebalance.listener. Not supported.', validate: () => 'is not supported (remove it)' },
  { name: 'new.consumer', type: 'boolean', default: true, doc: 'Accepted for compatibility: the consumer is always the Kafka-protocol one.', ignored: 'the consumer always uses the Kafka group protocol' },
  { name: 'validate', type: 'boolean', default: false, doc: 'Check the flags and both properties files, config provider references included, print the settings (secrets as [hidden]) and exit without connecting: 0 when valid, 2 when not. Default false.' },
  { name: 'help', type: 'boolean', default: false, doc: 'Print this help and exit.' }
]

export const mirrorFlags = new ConfigDefinition(mirrorFlagKeys)

export type Partitioning = 'key' | 'source'

export interface SourceSettings extends ClusterConnection {
  /** Set when the brokers must be found through ZooKeeper first. */
  zookeeperConnect?: string
  zookeeperTimeoutMs: number
  groupId: string
  groupInstanceId?: string
  autoOffsetReset: 'earliest' | 'latest' | 'none'
  sessionTimeoutMs: number
  heartbeatIntervalMs: number
  rebalanceTimeoutMs: number
  fetchMinBytes: number
  fetchMaxBytes: number
  maxPartitionFetchBytes: number
  fetchMaxWaitMs: number
  readCommitted: boolean
}

export interface TargetSettings extends ClusterConnection {
  acks: number
  idempotent: boolean
  compression: 'none' | 'gzip' | 'snappy' | 'lz4' | 'zstd'
  maxRequestSize: number
  bufferMemory: number
  deliveryTimeoutMs: number
  /** max.in.flight.requests.per.connection: Produce requests in flight per target broker. */
  maxInFlight: number
  /** transactional.id: the prefix of exactly-once mode's transactional ids; undefined: the default. */
  transactionalId?: string
  /** transaction.timeout.ms. */
  transactionTimeoutMs: number
}

/** Exactly-once mode (src/mirror/transactions.ts): records and source positions in target transactions. */
export interface ExactlyOnceSettings {
  /** The prefix of the transactional ids, `<prefix>-<topic>-<partition>`. */
  transactionalIdPrefix: string
  /** The positions topic on the target, in Kafka Connect's offsets format. */
  positionsTopic: string
  /** The connector name and the source cluster alias in its keys. */
  connector: string
  sourceAlias: string
  /** How long a transaction stays open after its first batch: what a read_committed consumer waits for a record. */
  transactionIntervalMs: number
  /** transaction.timeout.ms: the coordinator aborts a transaction open longer (its owner frozen, say). */
  transactionTimeoutMs: number
}

/** The positions topic of the MirrorMaker 1 form's exactly-once mode. */
export function mirrorPositionsTopic (groupId: string): string {
  return `kafka-mirror-offsets.${groupId}.internal`
}

/** The default prefix of the transactional ids. */
export function defaultTransactionalIdPrefix (groupId: string): string {
  return `kafka-mirror-${groupId}`
}

export interface MirrorSettings {
  source: SourceSettings
  target: TargetSettings
  topics: TopicFilter
  numStreams: number
  offsetCommitIntervalMs: number
  abortOnSendFailure: boolean
  onDataLoss: 'stop' | 'continue'
  topicRefreshIntervalMs: number
  once: boolean
  partitioning: Partitioning
  fastPath: 'auto' | 'off'
  createTopics: boolean
  statusIntervalMs: number
  /** The target topic a source topic is copied to (MirrorMaker 2's replication policies); absent: the same name. */
  targetTopic?: (sourceTopic: string) => string
  /** Replication factor of created target topics (MirrorMaker 2's replication.factor; -1: the brokers' default); absent: min(source's, target brokers). */
  replicationFactor?: number
  /**
   * Keeps (possibly with other headers) or drops each record before it is written; every batch is
   * then encoded again. Source partitioning only. MirrorMaker 2 flows use it against cycles.
   */
  rewriteRecord?: (record: DecodedRecord) => DecodedRecord | undefined
  /** Which of the source topic's configs a created target topic gets (MirrorMaker 2's config.properties.exclude); absent: all kafka-mirror copies. */
  topicConfigFilter?: (configName: string) => boolean
  /** Exactly-once mode; absent: off. */
  exactlyOnce?: ExactlyOnceSettings
}

export interface LoadedMirrorConfig {
  settings: MirrorSettings
  warnings: string[]
  logLevel: string
  logFormat: 'text' | 'json'
  /** --http.listener: where to serve metrics and status; undefined: nowhere. */
  httpListener?: { host: string, port: number }
  /** --validate: check only, do not connect. */
  validateOnly: boolean
  /** The keys each file gives, as `key=value` text for people; secrets are [hidden]. */
  properties: { consumer: Array<[string, string]>, producer: Array<[string, string]> }
}

/** Reads a properties file into key/value pairs; a missing or unreadable file is a problem. */
export function readPropertiesFile (path: string, flag: string, problems: ConfigProblem[]): Array<[string, string]> | undefined {
  if (!existsSync(path)) {
    problems.push({ source: 'command line', key: flag, message: `file ${abbreviate(path)} does not exist`, fix: 'give the path of a Kafka .properties file' })
    return undefined
  }
  if (statSync(path).isDirectory()) {
    problems.push({ source: 'command line', key: flag, message: `${abbreviate(path)} is a folder, not a file` })
    return undefined
  }
  try {
    return parseProperties(readFileSync(path, 'utf8')).map(e => [e.key, e.value])
  } catch (error) {
    problems.push({ source: 'command line', key: flag, message: `cannot read ${abbreviate(path)}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}` })
    return undefined
  }
}

const num = (values: Map<string, ConfigValue>, key: string): number => Number(values.get(key))
const text = (values: Map<string, ConfigValue>, key: string): string | undefined => values.get(key) === undefined ? undefined : String(values.get(key))

export function sourceSettings (parsed: ParsedConfig, file: string, problems: ConfigProblem[]): SourceSettings {
  const v = parsed.values
  const bootstrap = (v.get('bootstrap.servers') as string[] | undefined) ?? []
  const zookeeperConnect = text(v, 'zookeeper.connect')
  if (bootstrap.length === 0 && zookeeperConnect === undefined && !parsed.problems.some(p => p.key === 'bootstrap.servers')) {
    problems.push({ source: file, key: 'bootstrap.servers', message: 'is missing: the source cluster is unknown', fix: 'set bootstrap.servers=host:9092 (or zookeeper.connect for ZooKeeper-era clusters)' })
  }
  const groupId = text(v, 'group.id') ?? 'kafka-mirror'
  const reset = (text(v, 'auto.offset.reset') ?? 'earliest').toLowerCase()
  return {
    ...clusterConnection('source', file, v, bootstrap, groupId, problems),
    zookeeperConnect: bootstrap.length === 0 ? zookeeperConnect : undefined,
    zookeeperTimeoutMs: num(v, 'zookeeper.connection.timeout.ms'),
    groupId,
    groupInstanceId: text(v, 'group.instance.id'),
    autoOffsetReset: reset === 'smallest' ? 'earliest' : reset === 'largest' ? 'latest' : reset as 'earliest',
    sessionTimeoutMs: num(v, 'session.timeout.ms'),
    heartbeatIntervalMs: num(v, 'heartbeat.interval.ms'),
    rebalanceTimeoutMs: num(v, 'max.poll.interval.ms'),
    fetchMinBytes: num(v, 'fetch.min.bytes'),
    fetchMaxBytes: num(v, 'fetch.max.bytes'),
    maxPartitionFetchBytes: num(v, 'max.partition.fetch.bytes'),
    fetchMaxWaitMs: num(v, 'fetch.max.wait.ms'),
    readCommitted: text(v, 'isolation.level') === 'read_committed'
  }
}

export function targetSettings (parsed: ParsedConfig, file: string, problems: ConfigProblem[]): TargetSettings {
  const v = parsed.values
  const bootstrap = (v.get('bootstrap.servers') as string[] | undefined) ?? []
  if (bootstrap.length === 0 && !parsed.problems.some(p => p.key === 'bootstrap.servers')) {
    problems.push({ source: file, key: 'bootstrap.servers', message: 'is missing: the target cluster is unknown', fix: 'set bootstrap.servers=host:9092' })
  }
  const acksText = text(v, 'acks') ?? 'all'
  const acks = acksText === 'all' ? -1 : Number(acksText)
  const idempotent = v.get('enable.idempotence') === true
  if (idempotent && acks !== -1 && parsed.given.has('enable.idempotence')) {
    problems.push({ source: file, key: 'acks', message: `acks=${acksText} cannot go with enable.idempotence=true`, fix: 'set acks=all, or enable.idempotence=false' })
  }
  if (acks === 0) {
    problems.push({ source: file, key: 'acks', message: 'acks=0 gets no answer from the target, so the mirror could never know what to commit on the source: records would be lost unseen', fix: 'set acks=1 (the leader) or acks=all (the default)' })
  }
  return {
    ...clusterConnection('target', file, v, bootstrap, 'kafka-mirror-producer', problems),
    acks,
    // As in Kafka 3+, idempotence quietly turns off when the user asked for weaker acks.
    idempotent: idempotent && acks === -1,
    compression: (text(v, 'compression.type') ?? 'none').toLowerCase() as TargetSettings['compression'],
    maxRequestSize: num(v, 'max.request.size'),
    bufferMemory: num(v, 'buffer.memory'),
    deliveryTimeoutMs: num(v, 'delivery.timeout.ms'),
    maxInFlight: num(v, 'max.in.flight.requests.per.connection'),
    transactionalId: text(v, 'transactional.id'),
    transactionTimeoutMs: num(v, 'transaction.timeout.ms')
  }
}

/**
 * What makes exactly-once mode impossible in the producer's settings: transactions need the
 * idempotent producer, which needs acks=all. `turnedOnBy` names the setting that asks for it.
 */
export function exactlyOnceProblems (target: TargetSettings, parsed: ParsedConfig, file: string, turnedOnBy: string): ConfigProblem[] {
  const problems: ConfigProblem[] = []
  if (target.acks !== -1) problems.push({ source: file, key: 'acks', message: `acks=${String(parsed.values.get('acks'))} cannot go with ${turnedOnBy}: transactions need acks=all`, fix: 'set acks=all (the default)' })
  if (parsed.values.get('enable.idempotence') === false) problems.push({ source: file, key: 'enable.idempotence', message: `false cannot go with ${turnedOnBy}: transactions need the idempotent producer`, fix: 'set enable.idempotence=true (the default)' })
  return problems
}

/**
 * Validates the mirror flags and both properties files together; throws one ConfigError listing
 * every problem. ZooKeeper is not contacted here (see resolveSourceBrokers).
 */
export function loadMirrorConfig (flags: Array<[string, string]>): LoadedMirrorConfig {
  const problems: ConfigProblem[] = []
  const parsedFlags = mirrorFlags.parse(flags, 'command line', { required: ['consumer.config', 'producer.config'] })
  problems.push(...parsedFlags.problems.map(p => p.key !== undefined ? { ...p, key: `--${p.key}` } : p))
  const warnings = [...parsedFlags.warnings]
  const f = parsedFlags.values

  const include = text(f, 'include') ?? text(f, 'whitelist')
  if (text(f, 'include') !== undefined && text(f, 'whitelist') !== undefined) {
    problems.push({ source: 'command line', key: '--whitelist', message: 'is given together with --include', fix: 'give only one of them' })
  }
  if (include === undefined) {
    problems.push({ source: 'command line', key: '--include', message: 'is missing: which topics to mirror?', fix: 'add --include \'testtopic\' (or --whitelist, a regex such as \'orders.*\')' })
  }
  const includeRegex = include !== undefined ? compileTopicRegex(include, parsedFlags.given.has('include') ? '--include' : '--whitelist', problems) : undefined
  const excludeText = text(f, 'exclude')
  const excludeRegex = excludeText !== undefined ? compileTopicRegex(excludeText, '--exclude', problems) : undefined

  let source: SourceSettings | undefined
  let target: TargetSettings | undefined
  let producerParsed: ParsedConfig | undefined
  const properties: LoadedMirrorConfig['properties'] = { consumer: [], producer: [] }
  const consumerFile = text(f, 'consumer.config')
  if (consumerFile !== undefined) {
    const raw = readPropertiesFile(consumerFile, '--consumer.config', problems)
    if (raw !== undefined) {
      const name = basename(consumerFile)
      const parsed = consumerConfig.parse(raw, name, { references: true })
      properties.consumer = consumerConfig.describe(parsed)
      problems.push(...parsed.problems)
      warnings.push(...parsed.warnings)
      source = sourceSettings(parsed, name, problems)
      if (source.zookeeperConnect !== undefined) {
        warnings.push(`${name}: zookeeper.connect is deprecated: kafka-mirror finds the brokers through ZooKeeper once at start; set bootstrap.servers instead`)
      }
    }
  }
  const producerFile = text(f, 'producer.config')
  if (producerFile !== undefined) {
    const raw = readPropertiesFile(producerFile, '--producer.config', problems)
    if (raw !== undefined) {
      const name = basename(producerFile)
      const parsed = producerConfig.parse(raw, name, { references: true })
      properties.producer = producerConfig.describe(parsed)
      problems.push(...parsed.problems)
      warnings.push(...parsed.warnings)
      target = targetSettings(parsed, name, problems)
      producerParsed = parsed
    }
  }
  const exactlyOnce = text(f, 'exactly.once.support') === 'enabled'
  if (exactlyOnce) {
    if (f.get('abort.on.send.failure') !== true) problems.push({ source: 'command line', key: '--abort.on.send.failure', message: 'false cannot go with --exactly.once.support enabled: a transaction cannot skip a refused batch', fix: 'remove --abort.on.send.failure false, or --exactly.once.support enabled' })
    if (target !== undefined && producerParsed !== undefined) problems.push(...exactlyOnceProblems(target, producerParsed, basename(producerFile!), '--exactly.once.support enabled'))
  }

  if (problems.length > 0 || source === undefined || target === undefined || includeRegex === undefined) {
    throw new ConfigError(problems)
  }
  return {
    settings: {
      source,
      target,
      topics: { include: includeRegex, exclude: excludeRegex, description: include! + (excludeText !== undefined ? ` except ${excludeText}` : '') },
      numStreams: num(f, 'num.streams'),
      offsetCommitIntervalMs: num(f, 'offset.commit.interval.ms'),
      abortOnSendFailure: f.get('abort.on.send.failure') === true,
      onDataLoss: text(f, 'on.data.loss') === 'continue' ? 'continue' : 'stop',
      topicRefreshIntervalMs: num(f, 'topic.refresh.interval.ms'),
      once: f.get('once') === true,
      partitioning: text(f, 'partitioning') as Partitioning,
      fastPath: text(f, 'fast.path') === 'off' ? 'off' : 'auto',
      createTopics: f.get('create.topics') === true,
      statusIntervalMs: num(f, 'status.interval.ms'),
      exactlyOnce: exactlyOnce
        ? {
            transactionalIdPrefix: target.transactionalId ?? defaultTransactionalIdPrefix(source.groupId),
            positionsTopic: mirrorPositionsTopic(source.groupId),
            connector: 'MirrorSourceConnector',
            sourceAlias: 'source',
            transactionIntervalMs: num(f, 'transaction.interval.ms'),
            transactionTimeoutMs: target.transactionTimeoutMs
          }
        : undefined
    },
    warnings,
    logLevel: text(f, 'log.level') ?? 'info',
    logFormat: text(f, 'log.format') === 'json' ? 'json' : 'text',
    httpListener: text(f, 'http.listener') === undefined ? undefined : listenAddress(text(f, 'http.listener')!),
    validateOnly: f.get('validate') === true,
    properties
  }
}
